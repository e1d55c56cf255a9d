"""Simulate the exposures a dither pattern produces (issue 3)."""
