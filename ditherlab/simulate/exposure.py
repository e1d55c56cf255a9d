"""The Exposure seam between the simulator and the drizzle stage.

An :class:`Exposure` is what a pipeline may read — per chip ``sci``, ``err``, ``dq`` and a
WCS that includes the distortion, plus exposure time, gain, read noise and sky — and,
kept apart in :attr:`Exposure.truth`, what only the simulator knows: the noiseless
image, the cosmic-ray charge, the defect map and the true pointing.

All images are in electrons, stored as float32 (``dq`` uint16, defects uint8); arrays are
read-only.  In memory every detector is in electrons; on disk
(:func:`~ditherlab.simulate.write_exposure`) each file holds its instrument's units:
electrons for ACS and WFC3/UVIS, e⁻/s for WFC3/IR, DN for WFPC2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["ChipExposure", "ChipTruth", "Exposure", "Truth"]


def _freeze(obj: Any, names: tuple[str, ...], dtypes: dict[str, Any]) -> None:
    for name in names:
        arr = np.array(getattr(obj, name), dtype=dtypes[name], copy=True)
        arr.setflags(write=False)
        object.__setattr__(obj, name, arr)


@dataclasses.dataclass(frozen=True, eq=False)
class ChipExposure:
    """One chip (``SCI``/``ERR``/``DQ`` extension group) of an exposure.

    Attributes
    ----------
    sci, err : ndarray of float32
        Calibrated (bias- and dark-subtracted) electrons and their 1-sigma error.
    dq : ndarray of uint16
        Data-quality bits (instrument table, e.g. 16 hot, 64 warm, 256 saturated).
    wcs : astropy.wcs.WCS
        TAN-SIP WCS of the *commanded* pointing (what the header says).
    ccdchip : int
        ``CCDCHIP`` of the chip.
    extver : int
        ``EXTVER`` of the extension group (1-based, flt order).
    origin : (int, int)
        Full-chip pixel ``(x0, y0)`` of ``sci[0, 0]`` (non-zero for sub-arrays).
    full_shape : (int, int)
        Shape of the full chip.
    aperture : str
        Name of the chip's full-chip aperture (e.g. ``"JWFC1FIX"``).
    idcscale : float, optional
        Nominal pixel scale (arcsec) of this chip (header ``IDCSCALE``); WFPC2's PC1
        differs from the WF chips.  Default: the exposure's.
    sky : float, optional
        Sky in this chip, e⁻ per pixel.  Default: the exposure's.
    """

    sci: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    wcs: Any
    ccdchip: int
    extver: int
    origin: tuple[int, int] = (0, 0)
    full_shape: tuple[int, int] | None = None
    aperture: str = ""
    idcscale: float | None = None
    sky: float | None = None

    def __post_init__(self) -> None:
        _freeze(self, ("sci", "err", "dq"), {"sci": np.float32, "err": np.float32, "dq": np.uint16})
        if not (self.sci.shape == self.err.shape == self.dq.shape) or self.sci.ndim != 2:
            raise ValueError("sci, err and dq must be 2-D arrays of the same shape")
        object.__setattr__(self, "origin", (int(self.origin[0]), int(self.origin[1])))
        fs = self.sci.shape if self.full_shape is None else self.full_shape
        object.__setattr__(self, "full_shape", (int(fs[0]), int(fs[1])))

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the arrays."""
        return self.sci.shape  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True, eq=False)
class ChipTruth:
    """What the simulator knows about one chip and no pipeline reads.

    Attributes
    ----------
    noiseless : ndarray of float32
        Expected electrons from the scene and the sky (no dark, CRs or noise).
    cr_charge : ndarray of float32
        Electrons deposited by cosmic rays (``cr_mask = cr_charge > 0``).
    defects : ndarray of uint8
        Bit field of :data:`ditherlab.simulate.detector.DEFECT_HOT` etc.
    dark : ndarray of float32
        Actual dark current in this exposure (e⁻/s), hot pixels included.
    wcs : astropy.wcs.WCS
        The WCS of the *true* pointing (commanded + pointing error).
    """

    noiseless: np.ndarray
    cr_charge: np.ndarray
    defects: np.ndarray
    dark: np.ndarray
    wcs: Any

    def __post_init__(self) -> None:
        _freeze(
            self,
            ("noiseless", "cr_charge", "defects", "dark"),
            {
                "noiseless": np.float32,
                "cr_charge": np.float32,
                "defects": np.uint8,
                "dark": np.float32,
            },
        )

    @property
    def cr_mask(self) -> np.ndarray:
        """Pixels hit by a cosmic ray."""
        return self.cr_charge > 0

    @property
    def hot_mask(self) -> np.ndarray:
        """Pixels with any hot/warm/unstable/variable defect or on a bad column."""
        return self.defects != 0


@dataclasses.dataclass(frozen=True, eq=False)
class Truth:
    """The truth of one exposure.

    Attributes
    ----------
    chips : tuple of ChipTruth
        In the same order as :attr:`Exposure.chips`.
    postarg : (float, float)
        True POS TARG (arcsec): commanded plus the pointing error.
    roll : float
        Roll error (deg).
    visit : int
        Visit number of the exposure (pointing errors are shared within a visit).
    """

    chips: tuple[ChipTruth, ...]
    postarg: tuple[float, float]
    roll: float = 0.0
    visit: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "chips", tuple(self.chips))
        object.__setattr__(self, "postarg", (float(self.postarg[0]), float(self.postarg[1])))


@dataclasses.dataclass(frozen=True, eq=False)
class Exposure:
    """One simulated exposure: the pipeline view plus, kept apart, the truth.

    Attributes
    ----------
    chips : tuple of ChipExposure
        In ``flt`` extension order (ACS/WFC: WFC2 then WFC1).
    exptime : float
        Exposure time (s).
    gain : float
        e⁻/DN.
    read_noise : float
        e⁻ RMS.
    sky : float
        Sky in this exposure, e⁻ per pixel (in the flt, i.e. at ``idcscale``²).
    dark : float
        Mean dark current (e⁻/s/pixel), subtracted.
    instrument, detector, aperture, filter : str
        ``INSTRUME``, ``DETECTOR``, ``APERTURE`` (the prime aperture), filter name.
    rootname : str
        ``ROOTNAME`` (lower case, the file stem before ``_flt``).
    expstart : float
        MJD of the start of the exposure.
    postarg : (float, float)
        Commanded POS TARG (arcsec).
    ra_targ, dec_targ, pa_v3 : float
        Target position (deg) placed at the aperture reference, and the V3 position angle.
    idcscale : float
        Nominal pixel scale (arcsec) of the flt normalisation.
    meta : mapping
        Extra provenance (pattern name, step, seed ...).
    truth : Truth or None
        The truth (None after reading a file without its truth file).
    """

    chips: tuple[ChipExposure, ...]
    exptime: float
    gain: float
    read_noise: float
    sky: float
    dark: float
    instrument: str
    detector: str
    aperture: str
    filter: str
    rootname: str
    expstart: float
    postarg: tuple[float, float]
    ra_targ: float
    dec_targ: float
    pa_v3: float
    idcscale: float
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    truth: Truth | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "chips", tuple(self.chips))
        object.__setattr__(self, "postarg", (float(self.postarg[0]), float(self.postarg[1])))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __len__(self) -> int:
        return len(self.chips)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{c.ccdchip}:{c.shape[1]}x{c.shape[0]}" for c in self.chips)
        return (
            f"Exposure({self.rootname!r}, {self.instrument}/{self.detector} {self.aperture}, "
            f"exptime={self.exptime:g} s, postarg=({self.postarg[0]:.4f}, {self.postarg[1]:.4f}), "
            f"chips [{shapes}]{', with truth' if self.truth is not None else ''})"
        )

    def chip(self, ccdchip: int) -> ChipExposure:
        """The chip with ``CCDCHIP == ccdchip``."""
        for c in self.chips:
            if c.ccdchip == ccdchip:
                return c
        raise KeyError(
            f"ccdchip={ccdchip!r} not in this exposure ({[c.ccdchip for c in self.chips]})"
        )

    def replace(self, **changes: Any) -> Exposure:
        """A copy with some fields changed (e.g. ``truth=None``)."""
        return dataclasses.replace(self, **changes)
