"""Argument checks shared by the public entry points.

Each helper takes the argument's *name* so that the error message can quote it, and
strips :class:`astropy.units.Quantity` once, at the boundary, converting to the unit the
function documents.  Internal code then works on plain float64 numbers and arrays.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from astropy import units as u

from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = [
    "as_array",
    "as_choice",
    "as_float",
    "as_int",
    "as_pair",
    "as_rng",
    "strip_unit",
]


def strip_unit(value: Any, unit: u.UnitBase | None, name: str) -> Any:
    """Return ``value`` as a plain number/array in ``unit``.

    A :class:`~astropy.units.Quantity` is converted to ``unit`` (a wrong physical type is
    reported with the argument name); anything else is assumed to be in ``unit`` already.
    """
    # astropy is imported only by code that needs it (``import ditherlab.drizzle`` stays
    # light): a Quantity cannot exist unless astropy.units has been imported already.
    u = sys.modules.get("astropy.units")
    if u is not None and isinstance(value, u.Quantity):
        if unit is None:
            if value.unit.physical_type != "dimensionless":
                raise DitherlabValueError(f"{name}={value!r} must be dimensionless")
            return value.to_value(u.dimensionless_unscaled)
        try:
            return value.to_value(unit)
        except u.UnitConversionError:
            raise DitherlabValueError(f"{name}={value!r} cannot be converted to {unit}") from None
    return value


def as_float(
    name: str,
    value: Any,
    *,
    unit: u.UnitBase | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Validate a finite real scalar, optionally within bounds, and return a float."""
    raw = strip_unit(value, unit, name)
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real | np.floating | np.integer):
        if isinstance(raw, np.ndarray) and raw.ndim == 0:
            raw = raw.item()
        else:
            raise DitherlabTypeError(f"{name}={value!r} must be a real number")
    x = float(raw)
    if not np.isfinite(x):
        raise DitherlabValueError(f"{name}={value!r} must be finite")
    if minimum is not None and (x < minimum or (not min_inclusive and x == minimum)):
        op = ">=" if min_inclusive else ">"
        raise DitherlabValueError(f"{name}={value!r} must be {op} {minimum}")
    if maximum is not None and (x > maximum or (not max_inclusive and x == maximum)):
        op = "<=" if max_inclusive else "<"
        raise DitherlabValueError(f"{name}={value!r} must be {op} {maximum}")
    return x


def as_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: Iterable[int] | None = None,
) -> int:
    """Validate an integer (``True``/``False`` are refused) and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise DitherlabTypeError(f"{name}={value!r} must be an integer")
    n = int(value)
    if choices is not None:
        allowed = tuple(choices)
        if n not in allowed:
            raise DitherlabValueError(f"{name}={value!r} is not one of {allowed}")
    if minimum is not None and n < minimum:
        raise DitherlabValueError(f"{name}={value!r} must be >= {minimum}")
    if maximum is not None and n > maximum:
        raise DitherlabValueError(f"{name}={value!r} must be <= {maximum}")
    return n


def as_pair(name: str, value: Any, *, unit: u.UnitBase | None = None) -> tuple[float, float]:
    """Validate a finite ``(x, y)`` pair; a scalar is used for both components."""
    raw = strip_unit(value, unit, name)
    arr = np.asarray(raw, dtype=float) if _is_numeric(raw) else None
    if arr is None:
        raise DitherlabTypeError(f"{name}={value!r} must be a number or a pair of numbers")
    if arr.ndim == 0:
        arr = np.array([arr, arr])
    if arr.shape != (2,):
        raise DitherlabValueError(f"{name}={value!r} must be a pair (x, y)")
    if not np.all(np.isfinite(arr)):
        raise DitherlabValueError(f"{name}={value!r} must be finite")
    return float(arr[0]), float(arr[1])


def as_array(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    unit: u.UnitBase | None = None,
    finite: bool = True,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Validate an array's dimensionality/shape and finiteness; return a ``dtype`` array."""
    raw = strip_unit(value, unit, name)
    if not _is_numeric(raw):
        raise DitherlabTypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    arr = np.asarray(raw, dtype=dtype)
    if ndim is not None and arr.ndim != ndim:
        raise DitherlabValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None and (
        arr.ndim != len(shape)
        or any(want is not None and got != want for got, want in zip(arr.shape, shape, strict=True))
    ):
        want_txt = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise DitherlabValueError(f"{name} must have shape {want_txt}, got {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise DitherlabValueError(
            f"{name} must be finite; element {tuple(int(i) for i in bad)} is {arr[tuple(bad)]}"
        )
    return arr


def as_choice(name: str, value: Any, choices: Iterable[str], *, casefold: bool = True) -> str:
    """Validate a string option against a closed vocabulary and return its canonical form."""
    allowed = tuple(choices)
    if not isinstance(value, str):
        raise DitherlabTypeError(f"{name}={value!r} must be one of {allowed}")
    key = value.casefold() if casefold else value
    for c in allowed:
        if (c.casefold() if casefold else c) == key:
            return c
    raise DitherlabValueError(f"{name}={value!r} is not one of {allowed}")


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Turn ``rng`` (a Generator, an int seed, a SeedSequence or None) into a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, numbers.Integral | np.random.SeedSequence):
        if isinstance(rng, bool):
            raise DitherlabTypeError(f"{name}={rng!r} must be a Generator, an int seed or None")
        if isinstance(rng, numbers.Integral) and rng < 0:
            raise DitherlabValueError(f"{name}={rng!r} must be a non-negative seed")
        return np.random.default_rng(rng)
    raise DitherlabTypeError(f"{name}={rng!r} must be a Generator, an int seed or None")


def _is_numeric(raw: Any) -> bool:
    if isinstance(raw, str | bytes):
        return False
    try:
        arr = np.asarray(raw)
    except (TypeError, ValueError):
        return False
    return arr.dtype.kind in "biuf"
