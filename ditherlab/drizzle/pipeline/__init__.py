"""AstroDrizzle-style pipeline on top of the drizzle core (issue 12).

Static mask → sky → separate drizzle → median → blot → cosmic-ray detection → final
drizzle, with AstroDrizzle's parameter names and defaults, from the data alone::

    from ditherlab.drizzle import PipelineConfig, run_pipeline

    cfg = PipelineConfig.for_instrument("ACS", "WFC", "2024-01-01")  # MDRIZTAB values
    products = run_pipeline(["a_flt.fits", "b_flt.fits"], cfg, final_pixfrac=0.8)
    products.sci, products.wht, products.cr_masks[0][1], products.sky[0]
    products.write("final_drz.fits")

See ``docs/pipeline.md``.
"""

from ditherlab.drizzle.pipeline.blot import blot_chip, median_for_blot, poly5_weights
from ditherlab.drizzle.pipeline.config import (
    ACS_WFC_NEW_DQ_DATE,
    WFC3_UVIS_NEW_DQ_DATE,
    PipelineConfig,
    native_scale,
)
from ditherlab.drizzle.pipeline.crdetect import blot_derivative, driz_cr_mask
from ditherlab.drizzle.pipeline.geometry import PipelineGeometry, build_geometry, output_wcs
from ditherlab.drizzle.pipeline.inputs import InputChip, InputExposure, load_inputs
from ditherlab.drizzle.pipeline.masks import (
    box_dilate,
    dq_good_mask,
    interpret_bits,
    reset_bits,
    static_mask,
)
from ditherlab.drizzle.pipeline.median import (
    combine_masks,
    combine_singles,
    extend_edges,
    masked_median,
    minmed,
)
from ditherlab.drizzle.pipeline.products import PipelineProducts
from ditherlab.drizzle.pipeline.run import run_pipeline
from ditherlab.drizzle.pipeline.sky import SkyResult, chip_sky, compute_sky, read_skyfile
from ditherlab.drizzle.pipeline.stats import ClippedStats, histogram_mode, image_stats

__all__ = [
    "ACS_WFC_NEW_DQ_DATE",
    "WFC3_UVIS_NEW_DQ_DATE",
    "ClippedStats",
    "InputChip",
    "InputExposure",
    "PipelineConfig",
    "PipelineGeometry",
    "PipelineProducts",
    "SkyResult",
    "blot_chip",
    "blot_derivative",
    "box_dilate",
    "build_geometry",
    "chip_sky",
    "combine_masks",
    "combine_singles",
    "compute_sky",
    "dq_good_mask",
    "driz_cr_mask",
    "extend_edges",
    "histogram_mode",
    "image_stats",
    "interpret_bits",
    "load_inputs",
    "masked_median",
    "median_for_blot",
    "minmed",
    "native_scale",
    "output_wcs",
    "poly5_weights",
    "read_skyfile",
    "reset_bits",
    "run_pipeline",
    "static_mask",
]
