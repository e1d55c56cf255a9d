"""Vectorised drizzle and blot (issue 4)."""
