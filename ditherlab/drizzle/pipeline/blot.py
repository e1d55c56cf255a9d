"""Blot the median back onto every input chip: AstroDrizzle's ``blot`` step.

References
----------
drizzlepac ``ablot.py::run_blot`` (interpolate the median onto the chip's pixels, scale
by the exposure time, add the chip's sky back when ``blot_addsky``); project reference
``detector_and_astrodrizzle.md`` §3 "Blot".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ditherlab.drizzle._blot import blot_image, blot_poly5, poly5_weights
from ditherlab.drizzle.pipeline.median import extend_edges, median_masks

__all__ = ["blot_chip", "median_coverage", "median_for_blot", "poly5_weights"]


def median_coverage(weights: Sequence[np.ndarray], cfg: Any) -> np.ndarray:
    """Output pixels where some single has a good value, i.e. where the median means something."""
    covered = np.zeros(np.shape(weights[0]), bool)
    for bad in median_masks(weights, cfg):
        covered |= ~bad
    return covered


def median_for_blot(
    median: np.ndarray, weights: Sequence[np.ndarray], cfg: Any, covered: np.ndarray | None = None
) -> np.ndarray:
    """The median extended by 3 pixels past the pixels any single covers (:func:`extend_edges`).

    Where no single drizzle has a good pixel the median is 0; the 6 × 6 ``poly5`` stencil
    would pull chip pixels at the edge of the coverage towards it (*ditherlab*; AstroDrizzle
    blots the raw median).  ``covered``: :func:`median_coverage`, if already computed.
    """
    if covered is None:
        covered = median_coverage(weights, cfg)
    return extend_edges(median, covered, 3)


def blot_chip(
    median: np.ndarray, pixmap: np.ndarray, ratio: float, exptime: float, sky: float, cfg: Any
) -> np.ndarray:
    """The median (e⁻/s) interpolated onto a chip, in e⁻, with ``sky`` added (float32).

    ``sky`` is the chip's computed sky (what the drizzle steps subtracted) when
    ``blot_addsky``, else ``blot_skyval`` is added.
    """
    if cfg.blot_interp == "poly5" and min(np.shape(median)) >= 4:
        b = blot_poly5(median, pixmap, np.float32(exptime / (ratio * ratio)), cfg.num_cores)
    else:
        b = blot_image(median, pixmap, pix_ratio=ratio, exptime=exptime,
                       interp=cfg.blot_interp, sinscl=cfg.blot_sinscl)  # fmt: skip
    add = sky if cfg.blot_addsky else cfg.blot_skyval
    if add:
        b += np.float32(add)
    return b
