"""Simulate the exposures a dither pattern produces (issue 3).

Typical use::

    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe, write_exposure

    scene = Scene.random_field(500, sky=40.0, rng=1)
    for exp in observe(scene, subpixel(4), "acs-wfc", 500.0, rng=1):
        write_exposure(exp, f"{exp.rootname}_flt.fits")

Importing this package does no I/O and does not import matplotlib.
"""

from ditherlab.simulate.detector import (
    ACS_DQ,
    WFC3_DQ,
    WFPC2_DQ,
    Defects,
    DetectorModel,
    atod_saturate,
    cosmic_rays,
    cr_rate_from_flux,
    cr_rate_from_percent,
    dark_rate,
    detector_model,
    make_defects,
    saturate,
)
from ditherlab.simulate.exposure import ChipExposure, ChipTruth, Exposure, Truth
from ditherlab.simulate.filters import check_filter, default_filter, pivot_wavelength
from ditherlab.simulate.io import read_exposure, truth_path, write_exposure
from ditherlab.simulate.observe import Pointing, iter_observe, observe, pattern_postargs
from ditherlab.simulate.psf import (
    HSTPSF,
    PSF,
    AiryPSF,
    GaussianPSF,
    ImagePSF,
    MoffatPSF,
    default_psf,
    pixel_kernel,
    pixelated_psf,
)
from ditherlab.simulate.scene import Scene

__all__ = [
    "ACS_DQ",
    "HSTPSF",
    "PSF",
    "WFC3_DQ",
    "WFPC2_DQ",
    "AiryPSF",
    "ChipExposure",
    "ChipTruth",
    "Defects",
    "DetectorModel",
    "Exposure",
    "GaussianPSF",
    "ImagePSF",
    "MoffatPSF",
    "Pointing",
    "Scene",
    "Truth",
    "atod_saturate",
    "check_filter",
    "cosmic_rays",
    "cr_rate_from_flux",
    "cr_rate_from_percent",
    "dark_rate",
    "default_filter",
    "default_psf",
    "detector_model",
    "iter_observe",
    "make_defects",
    "observe",
    "pattern_postargs",
    "pivot_wavelength",
    "pixel_kernel",
    "pixelated_psf",
    "read_exposure",
    "saturate",
    "truth_path",
    "write_exposure",
]
