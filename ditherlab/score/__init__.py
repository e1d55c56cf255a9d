"""Score dither patterns and drizzled products.

Geometry scores work on plans alone: the phase primitives in :mod:`ditherlab.score.phase`
and their field maps, :func:`phase_coverage`, in :mod:`ditherlab.score.geometry`.
Product metrics (:mod:`ditherlab.score.products`) work on drizzled weight and science
images; :mod:`ditherlab.score.crmask` scores a pipeline's cosmic-ray masks against the
simulator's truth.  :func:`compare` puts patterns side by side, :func:`recommend_drizzle`
suggests ``final_scale``/``final_pixfrac``, :func:`write_report` writes the HTML
comparison page.
"""

from ditherlab.score.compare import compare
from ditherlab.score.crmask import (
    CRMaskScore,
    MaskAgreement,
    mask_agreement,
    score_cr_mask,
    score_exposures,
)
from ditherlab.score.depth import SkyDepth, depth_map
from ditherlab.score.evaluate import ProductScores, evaluate, measure_noise_ratio
from ditherlab.score.geometry import METRICS, PhaseCoverage, phase_coverage
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
from ditherlab.score.recommend import DrizzleRecommendation, recommend_drizzle
from ditherlab.score.report import write_report

__all__ = [
    "ETA_CAP",
    "METRICS",
    "CRMaskScore",
    "MaskAgreement",
    "PhaseCoverage",
    "SkyDepth",
    "correlated_noise_ratio",
    "covering_radius",
    "depth_map",
    "hot_pixel_clearance",
    "mask_agreement",
    "noise_amplification",
    "phase_coverage",
    "phase_gaps",
    "phase_metrics",
    "sampling_efficiency",
    "score_cr_mask",
    "score_exposures",
    "weight_uniformity",
]
__all__ += [
    "DrizzleRecommendation",
    "ProductScores",
    "compare",
    "evaluate",
    "measure_noise_ratio",
    "recommend_drizzle",
    "write_report",
]
