"""Read the pipeline's inputs: simulated exposures, ditherlab flt files or real HST flt/flc.

Every input becomes an :class:`InputExposure` of :class:`InputChip` records with the
data in electrons (``BUNIT = ELECTRONS``: as stored; ``ELECTRONS/S``: × exposure time;
``COUNTS``: × gain), the DQ, the WCS and the noise parameters.  Arrays of an
:class:`~ditherlab.simulate.Exposure` are used as they are (read-only, never copied or
changed).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ditherlab.errors import DitherlabTypeError, DitherlabValueError, FileFormatError

__all__ = ["InputChip", "InputExposure", "load_inputs"]


@dataclasses.dataclass(frozen=True, eq=False)
class InputChip:
    """One chip as the pipeline sees it (data in electrons)."""

    sci: np.ndarray
    err: np.ndarray | None
    dq: np.ndarray
    wcs: Any
    ccdchip: int
    extver: int
    rdnoise: float
    idcscale: float
    header: Mapping[str, Any]
    cte_dir: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return self.sci.shape  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True, eq=False)
class InputExposure:
    """One input exposure: its chips and the keywords the steps need."""

    name: str
    rootname: str
    instrument: str
    detector: str
    exptime: float
    expstart: float
    dark: float
    chips: tuple[InputChip, ...]


def _cte_dir(instrument: str, detector: str, ccdchip: int) -> int:
    """Direction (+1: +y, −1: −y) of the CTE trail of a chip, away from its amplifiers.

    ACS/WFC and WFC3/UVIS: chip 1 is read out at its top (trail towards −y), chip 2 at
    its bottom (+y); other CCDs +1, IR and MAMA detectors 0 (no CTE trail).  The sign is
    the opposite of drizzlepac's ``cte_dir`` (``acsData``/``wfc3Data``: SCI,1 = CCDCHIP 2
    → −1, SCI,2 = CCDCHIP 1 → +1), which names the side of its ``drizCR`` kernel, not
    the trail: the flagged pixels are the same (tested).  ACS/HRC amplifiers A/B
    (drizzlepac +1, trail towards −y) are not distinguished here.
    """
    if detector in ("IR", "SBC"):
        return 0
    if detector in ("WFC", "UVIS"):
        return -1 if ccdchip == 1 else 1
    return 1


def _from_exposure(exp: Any, name: str) -> InputExposure:
    chips = []
    for c in exp.chips:
        sky = exp.sky if c.sky is None else c.sky
        header = {"DL_SKY": sky, "CCDCHIP": c.ccdchip, "EXTVER": c.extver}
        chips.append(
            InputChip(
                sci=c.sci,
                err=c.err,
                dq=c.dq,
                wcs=c.wcs,
                ccdchip=int(c.ccdchip),
                extver=int(c.extver),
                rdnoise=float(exp.read_noise),
                idcscale=float(exp.idcscale if c.idcscale is None else c.idcscale),
                header=MappingProxyType(header),
                cte_dir=_cte_dir(exp.instrument, exp.detector, int(c.ccdchip)),
            )
        )
    return InputExposure(
        name=name,
        rootname=str(exp.rootname),
        instrument=str(exp.instrument).upper(),
        detector=str(exp.detector).upper(),
        exptime=float(exp.exptime),
        expstart=float(exp.expstart),
        dark=float(exp.dark),
        chips=tuple(chips),
    )


def _read_path(path: Path, gain: float | None = None) -> InputExposure:
    """Read an flt/flc file: ditherlab's own through its reader, else a generic HST one."""
    from astropy.io import fits

    from ditherlab.simulate.io import read_exposure

    if not path.is_file():
        raise FileNotFoundError(f"input {str(path)!r} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path) as hdul:
                ours = "DL_IDCSC" in hdul[0].header
                if not ours:
                    exp = _read_hst(path, hdul, gain)
            if ours:
                exp = _from_exposure(read_exposure(path, truth=False), path.name)
        except (OSError, ValueError, TypeError, IndexError) as exc:
            if isinstance(exc, FileFormatError | FileNotFoundError):
                raise
            raise FileFormatError(
                f"input {str(path)!r} is not a readable FITS file: {exc}"
            ) from None
    for w in caught:
        text = str(w.message)
        if "truncated" in text.lower() or "corrupt" in text.lower():
            raise FileFormatError(f"input {str(path)!r} is truncated or corrupt: {text}")
    return exp


def _read_hst(path: Path, hdul: Any, gain: float | None = None) -> InputExposure:
    """A real HST flt/flc: SCI/ERR/DQ groups with a FITS WCS (SIP and lookup tables)."""
    from astropy.wcs import WCS

    ph = hdul[0].header
    groups: dict[int, dict[str, Any]] = {}
    for hdu in hdul[1:]:
        name = str(hdu.header.get("EXTNAME", "")).upper()
        if name in ("SCI", "ERR", "DQ"):
            groups.setdefault(int(hdu.header.get("EXTVER", 1)), {})[name] = hdu
    if not groups or any("SCI" not in g or "DQ" not in g for g in groups.values()):
        raise FileFormatError(f"input {str(path)!r} has no SCI and DQ extension pairs")
    for key in ("INSTRUME", "EXPTIME"):
        if key not in ph:
            raise FileFormatError(f"input {str(path)!r}: primary header has no {key}")
    inst = str(ph["INSTRUME"]).upper()
    det = str(ph.get("DETECTOR", inst)).upper()
    exptime = float(ph["EXPTIME"])
    rn = [float(ph[k]) for k in ("READNSEA", "READNSEB", "READNSEC", "READNSED") if k in ph]
    chips = []
    for ver in sorted(groups):
        g = groups[ver]
        sh = g["SCI"].header
        sci = np.asarray(g["SCI"].data, dtype=np.float32)
        dq = np.asarray(g["DQ"].data).astype(np.uint16)
        err = None
        if "ERR" in g and g["ERR"].data is not None:
            err = np.asarray(g["ERR"].data, np.float32)
        if sci.ndim != 2 or dq.shape != sci.shape:
            raise FileFormatError(f"input {str(path)!r}: SCI,{ver} and DQ,{ver} shapes differ")
        bunit = str(sh.get("BUNIT", "ELECTRONS")).upper()
        factor = 1.0
        if bunit.endswith("/S"):
            factor = exptime
        elif bunit.startswith("COUNT"):
            factor = gain if gain is not None else float(
                sh.get("ATODGAIN", ph.get("ATODGAIN", ph.get("CCDGAIN", 1.0)))
            )
        if factor != 1.0:
            sci = sci * np.float32(factor)
            err = None if err is None else err * np.float32(factor)
        wcs = WCS(sh, hdul)
        if not wcs.has_celestial:
            raise FileFormatError(f"input {str(path)!r}: SCI,{ver} has no celestial WCS")
        wcs.pixel_shape = (sci.shape[1], sci.shape[0])
        ccdchip = int(sh.get("CCDCHIP", ver))
        scale = sh.get("IDCSCALE")
        if scale is None:
            scale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0)
        header = {k: sh[k] for k in sh if k and k not in ("COMMENT", "HISTORY")}
        if "PA_V3" in ph:  # the roll, for AstroDrizzle's default grid orientation (geometry)
            header["PA_V3"] = ph["PA_V3"]
        chips.append(
            InputChip(
                sci=sci,
                err=err,
                dq=dq,
                wcs=wcs,
                ccdchip=ccdchip,
                extver=ver,
                rdnoise=float(np.mean(rn)) if rn else float(sh.get("RDNOISE", 0.0)),
                idcscale=float(scale),
                header=MappingProxyType(header),
                cte_dir=_cte_dir(inst, det, ccdchip),
            )
        )
    return InputExposure(
        name=path.name,
        rootname=str(ph.get("ROOTNAME", path.name.split("_")[0])).lower(),
        instrument=inst,
        detector=det,
        exptime=exptime,
        expstart=float(ph.get("EXPSTART", 0.0)),
        dark=float(ph.get("MEANDARK", 0.0)) / exptime if exptime > 0 else 0.0,
        chips=tuple(chips),
    )


def load_inputs(inputs: Any, gain: float | None = None) -> list[InputExposure]:
    """Turn Exposures and/or flt paths into :class:`InputExposure` records.

    ``gain`` (AstroDrizzle's instrument override) converts files whose data are in DN
    (``BUNIT = COUNTS``) to electrons instead of their ``ATODGAIN``; data already in
    electrons need no gain (the cosmic-ray noise is computed in electrons).

    Raises
    ------
    FileNotFoundError, FileFormatError
        A path that does not exist, is not FITS, is truncated, or lacks SCI/DQ.
    DitherlabValueError
        No inputs, inputs from different instruments/detectors, a non-positive exposure
        time.
    """
    from ditherlab.simulate.exposure import Exposure

    if isinstance(inputs, str | os.PathLike | Exposure | InputExposure):
        inputs = [inputs]
    if not isinstance(inputs, Sequence) or isinstance(inputs, str | bytes):
        try:
            inputs = list(inputs)
        except TypeError:
            raise DitherlabTypeError(
                f"inputs={inputs!r} must be a list of Exposures or paths"
            ) from None
    if len(inputs) == 0:
        raise DitherlabValueError("inputs=[] is empty: give at least one exposure")
    out = []
    for k, item in enumerate(inputs):
        if isinstance(item, InputExposure):
            out.append(item)
        elif isinstance(item, Exposure):
            out.append(_from_exposure(item, f"{item.rootname}_flt.fits"))
        elif isinstance(item, str | os.PathLike):
            out.append(_read_path(Path(item), gain))
        else:
            raise DitherlabTypeError(
                f"inputs[{k}]={type(item).__name__} is neither an Exposure nor a path"
            )
    first = out[0]
    labels = [str(it) if isinstance(it, str | os.PathLike) else e.name
              for it, e in zip(inputs, out, strict=True)]  # fmt: skip
    for e, label in zip(out, labels, strict=True):
        if (e.instrument, e.detector) != (first.instrument, first.detector):
            raise DitherlabValueError(
                f"input {label!r} is {e.instrument}/{e.detector} but {labels[0]!r} is "
                f"{first.instrument}/{first.detector}: inputs must come from one camera"
            )
        if not e.exptime > 0:
            raise DitherlabValueError(f"input {e.name!r} has exposure time {e.exptime!r} s")
    return out
