"""Score dither patterns and drizzled products.

Phase-coverage metrics (:mod:`ditherlab.score.phase`) work on plans alone; product
metrics (:mod:`ditherlab.score.products`) on drizzled weight and science images.
"""

from ditherlab.score.crmask import (
    CRMaskScore,
    MaskAgreement,
    mask_agreement,
    score_cr_mask,
    score_exposures,
)
from ditherlab.score.phase import covering_radius, noise_amplification, phase_map, phase_metrics
from ditherlab.score.products import correlated_noise_ratio, weight_uniformity

__all__ = [
    "CRMaskScore",
    "MaskAgreement",
    "correlated_noise_ratio",
    "covering_radius",
    "mask_agreement",
    "noise_amplification",
    "phase_map",
    "phase_metrics",
    "score_cr_mask",
    "score_exposures",
    "weight_uniformity",
]
