"""Plan dither patterns: sub-pixel families, APT patterns, apertures and POS TARG tables."""
