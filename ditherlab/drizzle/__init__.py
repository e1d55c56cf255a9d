"""Vectorised drizzle and blot (issue 4).

A numpy implementation of the drizzle algorithm of Fruchter & Hook (2002, PASP 114, 144)
with the keyword names and conventions of STScI's ``drizzle.resample``: :class:`Drizzle`
accumulates images, :func:`blot_image` interpolates back, :func:`pixmap_from_wcs` and
:func:`pixmap_from_functions` build pixel maps (:func:`pixmap_from_aperture` straight from
an HST aperture and a POS TARG onto an :class:`IdealGrid`), :func:`prepare` builds a reusable sparse
operator for many frames that share one geometry.

Flux relation (all kernels except ``legacy_kernels=True`` gaussian/lanczos/tophat), with
the whole input inside the output::

    sum(out_img * out_wht) / iscale == Σ data · weight_map · wht_scale
"""

from ditherlab.drizzle._aperture_pixmap import IdealGrid, aperture_to_ideal, pixmap_from_aperture
from ditherlab.drizzle._blot import BLOT_INTERPOLATIONS, blot_image
from ditherlab.drizzle._kernels import KERNELS, quad_pixel_overlaps
from ditherlab.drizzle._operator import DrizzleOperator, prepare
from ditherlab.drizzle._pixmap import pixmap_from_functions, pixmap_from_wcs
from ditherlab.drizzle._resample import CTX_PLANE_BITS, Drizzle, estimate_pixel_scale_ratio

__all__ = [
    "BLOT_INTERPOLATIONS",
    "CTX_PLANE_BITS",
    "KERNELS",
    "Drizzle",
    "DrizzleOperator",
    "IdealGrid",
    "aperture_to_ideal",
    "blot_image",
    "estimate_pixel_scale_ratio",
    "pixmap_from_aperture",
    "pixmap_from_functions",
    "pixmap_from_wcs",
    "prepare",
    "quad_pixel_overlaps",
]

# the AstroDrizzle-style pipeline (issue 12), built on the public names above
from ditherlab.drizzle.pipeline import (
    PipelineConfig,
    PipelineGeometry,
    PipelineProducts,
    build_geometry,
    run_pipeline,
)

__all__ += [
    "PipelineConfig",
    "PipelineGeometry",
    "PipelineProducts",
    "build_geometry",
    "run_pipeline",
]
