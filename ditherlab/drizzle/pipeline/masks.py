"""Pixel masks: DQ bit flags (through astropy's bitmask) and the static mask.

References
----------
DrizzlePac Handbook §6.3 ("Controlling the Bit Mask", "Drizzled Masks"); drizzlepac
``buildmask.py`` (good = no bit outside ``bits`` set) and ``staticMask.py`` (a pixel is
bad if it lies below ``mode − static_sig · rms`` of its chip; the mask is shared by all
exposures of the same chip).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab.errors import DitherlabValueError

__all__ = [
    "box_dilate",
    "dq_good_mask",
    "interpret_bits",
    "reset_bits",
    "static_mask",
    "static_stats",
]


def interpret_bits(bits: Any, name: str = "bits") -> int | None:
    """Bit flags as one integer: a sum (336), a comma list ("16,64,256") or "~" forms.

    The parsing is :func:`astropy.nddata.bitmask.interpret_bit_flags`: ``"~336"`` flips
    the bits (only 16, 64 and 256 are then *bad*) and gives −337; ``None`` or ``""``
    means every flag is ignored (all pixels good), ``0`` that every flagged pixel is bad.

    Examples
    --------
    >>> interpret_bits("16,64,256"), interpret_bits(336), interpret_bits("~336")
    (336, 336, -337)
    >>> interpret_bits(None) is None
    True
    """
    from astropy.nddata.bitmask import interpret_bit_flags

    if isinstance(bits, bool):
        raise DitherlabValueError(f"{name}={bits!r} must be bit flags, e.g. 336 or '16,64,256'")
    if isinstance(bits, np.integer):
        bits = int(bits)
    if isinstance(bits, str) and bits.strip().upper() in ("INDEF", "NONE"):
        return None
    try:
        out = interpret_bit_flags(bits)
    except (TypeError, ValueError) as exc:
        raise DitherlabValueError(
            f"{name}={bits!r} is not a valid bit-flag value ({exc})"
        ) from None
    return None if out is None else int(out)


def dq_good_mask(dq: np.ndarray, bits: int | None) -> np.ndarray:
    """Boolean mask, True where a pixel is good: no DQ bit outside ``bits`` is set.

    ``bits`` are the flags treated as good (AstroDrizzle's ``driz_sep_bits``,
    ``final_bits``, ``sky_bits``); negative values are astropy's flipped form.  Same
    result as :func:`astropy.nddata.bitmask.bitfield_to_boolean_mask` with
    ``ignore_flags=bits`` (tested), in one pass over the DQ's own integer type.

    Examples
    --------
    >>> dq = np.array([0, 16, 64, 256, 336, 4096, 4112, 2, 512])
    >>> dq_good_mask(dq, 336).astype(int).tolist()
    [1, 1, 1, 1, 1, 0, 0, 0, 0]
    >>> dq_good_mask(dq, interpret_bits("~336")).astype(int).tolist()
    [1, 0, 0, 0, 0, 1, 0, 1, 1]
    """
    if bits is None:
        return np.ones(np.shape(dq), bool)
    a = np.asarray(dq)
    if a.dtype.kind == "i":  # e.g. int16 on disk: the same bits, read unsigned
        a = a.view(np.dtype(f"u{a.itemsize}"))
    elif a.dtype.kind != "u":
        a = a.astype(np.uint64)
    # astropy's rule for both forms: bad where a bit outside ``bits`` is set (for the
    # flipped form ``~b``, outside it means inside ``b``)
    keep = (~int(bits)) & int(np.iinfo(a.dtype).max)
    return (a & a.dtype.type(keep)) == 0


def reset_bits(dq: np.ndarray, resetbits: int | None) -> np.ndarray:
    """A copy of ``dq`` with ``resetbits`` cleared (the input is never changed).

    Examples
    --------
    >>> reset_bits(np.array([4096, 4112, 16], np.uint16), 4096).tolist()
    [0, 16, 16]
    """
    dq = np.asarray(dq)
    if not resetbits or resetbits < 0:  # None/0: nothing to reset; flipped forms make no sense
        return dq
    keep = np.iinfo(dq.dtype).max & ~int(resetbits)
    return dq & dq.dtype.type(keep)


def static_mask(
    chips: list[np.ndarray], static_sig: float = 4.0, stats: Any = None
) -> np.ndarray:
    """Static mask shared by the exposures of one chip: True where a pixel is good.

    For every exposure, :func:`~ditherlab.drizzle.pipeline.stats.image_stats` of the
    whole chip (3 clipping passes at ±3σ, mode from a 0.1σ histogram) gives ``mode`` and
    the clipped ``rms``; pixels below ``mode − static_sig · rms`` are bad, and a pixel bad
    in any exposure is bad in all (drizzlepac ``staticMask.py``).  Exposures whose
    histogram has fewer than 2 bins leave the mask unchanged.  ``stats`` may give those
    statistics of each chip already (:func:`static_stats`).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a = rng.normal(100.0, 5.0, (40, 40)); a[3, 4] = 20.0
    >>> b = rng.normal(100.0, 5.0, (40, 40)); b[10, 10] = 10.0
    >>> m = static_mask([a, b])
    >>> bool(m[3, 4]), bool(m[10, 10]), int((~m).sum())
    (False, False, 2)
    """
    good = np.ones(np.shape(chips[0]), bool)
    if stats is None:
        stats = [static_stats(data) for data in chips]
    for data, (mode, rms, nbins) in zip(chips, stats, strict=True):
        if nbins < 2 or not np.isfinite(mode):
            continue
        good &= ~(np.asarray(data) < mode - static_sig * rms)
    return good


def static_stats(data: np.ndarray) -> tuple[float, float, int]:
    """``(mode, rms, nbins)`` of a chip for :func:`static_mask` (``staticMask.py``)."""
    from ditherlab.drizzle.pipeline.stats import image_stats

    st = image_stats(data, nclip=3, lsig=3.0, usig=3.0, binwidth=0.1, want_median=False)
    return st.mode, st.stddev, st.nbins


def box_dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """True where any pixel of the ``(2·radius + 1)²`` box around it is True.

    Pixels outside the image count as False (for a 3 × 3 box this equals mirroring the
    image at its edges).  Separable shifted ORs: much faster than a generic filter.

    Examples
    --------
    >>> m = np.zeros((4, 5), bool); m[0, 0] = True
    >>> box_dilate(m).astype(int).tolist()
    [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    """
    m = np.asarray(mask, bool)
    rows = m.copy()
    for k in range(1, radius + 1):
        rows[:, k:] |= m[:, :-k]
        rows[:, :-k] |= m[:, k:]
    out = rows.copy()
    for k in range(1, radius + 1):
        out[k:] |= rows[:-k]
        out[:-k] |= rows[k:]
    return out
