"""Score dither patterns and drizzled products.

Geometry scores work on plans alone: the phase primitives in :mod:`ditherlab.score.phase`
and their field maps, :func:`phase_coverage`, in :mod:`ditherlab.score.geometry`.
Product metrics (:mod:`ditherlab.score.products`) work on drizzled weight and science
images.
"""

from ditherlab.score.geometry import METRICS, PhaseCoverage, phase_coverage, phase_map
from ditherlab.score.phase import (
    ETA_CAP,
    covering_radius,
    hot_pixel_clearance,
    noise_amplification,
    phase_gaps,
    phase_metrics,
    sampling_efficiency,
)
from ditherlab.score.products import correlated_noise_ratio, weight_uniformity

__all__ = [
    "ETA_CAP",
    "METRICS",
    "PhaseCoverage",
    "correlated_noise_ratio",
    "covering_radius",
    "hot_pixel_clearance",
    "noise_amplification",
    "phase_coverage",
    "phase_gaps",
    "phase_map",
    "phase_metrics",
    "sampling_efficiency",
    "weight_uniformity",
]
