"""Score dither patterns and drizzled products."""
