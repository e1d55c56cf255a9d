"""HST filters per detector: which names are valid, their pivot wavelengths, the defaults.

The table lives in ``ditherlab/simulate/data/hst_psf.json`` (with the PSF parameters and
their sources); this module only reads and checks it.

Examples
--------
>>> default_filter("WFC3", "IR")
'F160W'
>>> pivot_wavelength("ACS", "WFC", "f814w")
805.0
>>> try:
...     check_filter("WFC3", "IR", "F606W")
... except ValueError as exc:
...     print(str(exc).split("; ")[0])
filter='F606W' is not a filter of WFC3/IR
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = ["check_filter", "default_filter", "filter_names", "pivot_wavelength"]


@functools.lru_cache(maxsize=1)
def psf_data() -> dict[str, Any]:
    """The parsed ``hst_psf.json`` (cached; treat as read-only)."""
    text = resources.files("ditherlab.simulate").joinpath("data", "hst_psf.json").read_text("utf-8")
    data = json.loads(text)
    dets = data["detectors"]
    for key, val in list(dets.items()):
        if "same_as" in val:
            dets[key] = dets[val["same_as"]]
    return data


def detector_entry(instrument: str, detector: str) -> dict[str, Any]:
    """The data block of one detector, e.g. ``("ACS", "WFC")``."""
    if not isinstance(instrument, str) or not isinstance(detector, str):
        raise DitherlabTypeError(
            f"instrument={instrument!r} and detector={detector!r} must be strings"
        )
    key = f"{instrument.upper()}/{detector.upper()}"
    dets = psf_data()["detectors"]
    if key not in dets:
        raise DitherlabValueError(
            f"no PSF/filter data for instrument={instrument!r}, detector={detector!r}; "
            f"known: {', '.join(dets)}"
        )
    return dets[key]


def filter_names(instrument: str, detector: str) -> list[str]:
    """Valid filter names of a detector, in wavelength order."""
    filters = detector_entry(instrument, detector)["filters"]
    return sorted(filters, key=lambda k: filters[k])


def default_filter(instrument: str, detector: str) -> str:
    """The filter a simulation uses when none is given (F606W; F160W on WFC3/IR; F125LP SBC)."""
    return str(detector_entry(instrument, detector)["default_filter"])


# the broad-band filters a user most likely meant, listed first in error messages
_COMMON = ("F435W", "F475W", "F555W", "F606W", "F814W", "F105W", "F110W", "F125W", "F140W",
           "F160W", "F115LP", "F125LP", "F140LP", "F225W", "F275W", "F336W", "F438W")


def check_filter(instrument: str, detector: str, name: Any, argname: str = "filter") -> str:
    """The canonical (upper-case) filter name, or a one-line error naming valid ones.

    Raises
    ------
    DitherlabValueError
        If ``name`` is not a filter of that detector.
    """
    entry = detector_entry(instrument, detector)
    if not isinstance(name, str):
        raise DitherlabTypeError(f"{argname}={name!r} must be a filter name such as 'F606W'")
    canon = name.strip().upper()
    if canon in entry["filters"]:
        return canon
    names = filter_names(instrument, detector)
    common = [n for n in _COMMON if n in entry["filters"]][:6]
    shown = common if len(common) >= 3 else names[:6]
    raise DitherlabValueError(
        f"{argname}={name!r} is not a filter of {instrument.upper()}/{detector.upper()}; valid: "
        f"{', '.join(shown)}, ... ({len(names)} in all; default {entry['default_filter']})"
    )


def pivot_wavelength(instrument: str, detector: str, name: str) -> float:
    """Pivot wavelength (nm) of a filter of a detector (validated)."""
    canon = check_filter(instrument, detector, name)
    return float(detector_entry(instrument, detector)["filters"][canon])
