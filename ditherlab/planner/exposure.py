"""Exposure-splitting arithmetic: cosmic-ray loss, S/N and the overhead of dithering.

Splitting a total integration ``T`` into ``N`` exposures trades cosmic-ray losses (a pixel
is lost only when it is hit in every exposure) against read noise (paid ``N`` times) and
overhead (a telescope move per dither step).  :func:`split_table` puts the three side by
side for N = 1 … 9.

References
----------
HST DrizzlePac Handbook §2.2, Table 2.1 (WFPC2 ETC: 3000 s, F122M, 24 mag point source);
WFPC2 Instrument Handbook §6 (CCD S/N equation); COS Instrument Handbook Table 9.2
(spacecraft-move overheads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy import units as u

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.errors import DitherlabValueError

__all__ = [
    "SEED_WFPC2_CR_RATE",
    "ccd_snr",
    "cr_loss_fraction",
    "move_overhead",
    "pattern_overhead",
    "split_table",
]

#: Per-pixel cosmic-ray hit probability per second that reproduces the DrizzlePac
#: Handbook's WFPC2 table exactly (9.606250 % of pixels in 3000 s).
SEED_WFPC2_CR_RATE: float = 0.0960625 / 3000.0


def _counts(n_exposures: Any) -> tuple[np.ndarray, bool]:
    """``n_exposures`` as a 1-D integer array (≥ 1) and whether it was a scalar."""
    n = np.asarray(n_exposures)
    scalar = n.ndim == 0
    n = np.atleast_1d(n)
    if n.dtype.kind not in "iu" or np.any(n < 1):
        raise DitherlabValueError(f"n_exposures={n_exposures!r} must be integers >= 1")
    return n, scalar


def cr_loss_fraction(
    total_time: float | u.Quantity,
    n_exposures: int | Sequence[int] | np.ndarray,
    rate: float | u.Quantity = SEED_WFPC2_CR_RATE,
    model: str = "linear",
) -> float | np.ndarray:
    """Fraction of pixels hit by a cosmic ray in *every* one of N equal exposures.

    Each exposure lasts ``t = total_time / N``.  The per-exposure hit probability is

    * ``model="linear"``: ``p = rate · t``, which must not exceed 1 (a probability):
      past that the linear form is meaningless and an error is raised.  This is the form
      behind the
      DrizzlePac Handbook's WFPC2 ETC table, which it reproduces to every printed digit
      (9.606250 %, 0.230700 %, 0.003283 %, 0.000033 % for 1–4 splits of 3000 s at
      ``rate = 3.2020833e-5`` s⁻¹);
    * ``model="poisson"``: ``p = 1 − exp(−rate · t)``, the probability of at least one
      hit for hits arriving at random at ``rate`` per pixel per second.  Slightly lower
      for large ``rate · t``; the two agree to first order.

    Exposures are independent, so the loss is ``p ** N``.

    Parameters
    ----------
    total_time : float or Quantity
        Total exposure time, seconds (> 0).
    n_exposures : int or array of int
        Number of equal exposures (≥ 1).
    rate : float or Quantity, optional
        Hit probability per pixel per second (default the handbook's WFPC2 value,
        3.2 % of pixels per 1000 s).  A Quantity in 1/s is accepted.
    model : {"linear", "poisson"}, optional
        See above.

    Returns
    -------
    float or ndarray
        Lost fraction (0–1) for each ``n_exposures``.

    Raises
    ------
    DitherlabValueError
        With ``model="linear"``, if ``rate · t > 1`` for some N.

    Examples
    --------
    >>> [round(100 * cr_loss_fraction(3000, n), 6) for n in (1, 2, 3)]
    [9.60625, 0.2307, 0.003283]
    """
    T = as_float("total_time", total_time, unit=u.s, minimum=0, min_inclusive=False)
    r = as_float("rate", rate, unit=1 / u.s, minimum=0)
    m = as_choice("model", model, ("linear", "poisson"))
    n, scalar = _counts(n_exposures)
    t = T / n
    if m == "linear" and np.any(r * t > 1.0):
        worst = float(np.max(r * t))
        raise DitherlabValueError(
            f"rate={r:.4g}/s over a {float(np.max(t)):.6g} s exposure gives a hit probability "
            f"of {worst:.3g} > 1 in the linear model; lower the rate, split more, or use "
            "model='poisson'"
        )
    p = r * t if m == "linear" else -np.expm1(-r * t)
    loss = p ** n.astype(float)
    return float(loss[0]) if scalar else loss


def ccd_snr(
    source_rate: float | u.Quantity,
    total_time: float | u.Quantity,
    n_exposures: int | Sequence[int] | np.ndarray = 1,
    sky: float | u.Quantity = 0.0,
    dark: float | u.Quantity = 0.0,
    read_noise: float | u.Quantity = 0.0,
    n_pix: float = 1.0,
) -> float | np.ndarray:
    """Signal-to-noise of a source observed for ``total_time`` split into N reads.

    The CCD equation with ``S = source_rate · T`` electrons spread over ``n_pix``
    effective pixels (for a point source use the PSF's effective area ``1/sharpness``,
    as the WFPC2 ETC's "optimal" S/N does)::

        S/N = S / sqrt(S + n_pix · ((sky + dark) · T + N · read_noise²))

    Only the read-noise term grows with N; that is the whole S/N cost of splitting.

    Parameters
    ----------
    source_rate : float or Quantity
        Source count rate, electrons/s (≥ 0).
    total_time : float or Quantity
        Total exposure time, s (> 0).
    n_exposures : int or array of int, optional
        Number of reads (default 1).
    sky, dark : float or Quantity, optional
        Background rates, electrons/s/pixel (≥ 0).
    read_noise : float or Quantity, optional
        Read noise per read, electrons (≥ 0).
    n_pix : float, optional
        Effective number of pixels (> 0).

    Returns
    -------
    float or ndarray
        S/N for each ``n_exposures``.

    Examples
    --------
    One exact solution of the handbook's WFPC2 table (3.7, 2.9, 2.5, 2.3, 1.9 for
    1, 2, 3, 4, 6 reads): 87 e⁻ in 3000 s, 11.2 effective pixels, 0.005 e⁻/s/pixel dark,
    5.24 e⁻ read noise.

    >>> ccd_snr(87 / 3000, 3000, [1, 2, 3, 4, 6], dark=0.005, read_noise=5.24,
    ...         n_pix=11.2).round(1).tolist()
    [3.7, 2.9, 2.5, 2.3, 1.9]
    """
    s = as_float("source_rate", source_rate, unit=u.electron / u.s, minimum=0)
    T = as_float("total_time", total_time, unit=u.s, minimum=0, min_inclusive=False)
    b = as_float("sky", sky, unit=u.electron / u.s, minimum=0)
    d = as_float("dark", dark, unit=u.electron / u.s, minimum=0)
    rn = as_float("read_noise", read_noise, unit=u.electron, minimum=0)
    npix = as_float("n_pix", n_pix, minimum=0, min_inclusive=False)
    n, scalar = _counts(n_exposures)
    S = s * T
    var = S + npix * ((b + d) * T + n * rn**2)
    snr = np.where(var > 0, S / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return float(snr[0]) if scalar else snr


def move_overhead(offset: float | u.Quantity | np.ndarray) -> float | np.ndarray:
    """Overhead (s) of one telescope move of ``offset`` arcsec.

    HST small-angle manoeuvres: < 1.25″: 20 s; 1.25″–10″: 30 s; 10″–90″: 60 s.  Beyond
    ~90″ the guide stars are usually lost and a new guide-star acquisition (6 min) is
    needed, which is charged here as 360 s.  A zero offset costs nothing.

    Parameters
    ----------
    offset : float, Quantity or array
        Size of the move, arcsec (≥ 0).

    Returns
    -------
    float or ndarray
        Seconds.

    References
    ----------
    ACS Instrument Handbook §8.2 and Table 8.1 (moves take "20 to 60 seconds, depending on
    the size of the slew"; 1 min from 10″ to 1.5′); the three size bands are tabulated in
    the COS Instrument Handbook §9.2, Table 9.2, as generic observatory overheads that
    hold for every HST instrument; HST Primer App. A.5 (WFC3 example: a 2″ dither offset
    takes 0.5 min).  Beyond ~1.5′ guide stars are likely lost (COS IHB Table 9.2, note);
    WFC3 Instrument Handbook §10.2 charges a new guide-star acquisition, 6 min, for moves
    of more than 2′.

    Examples
    --------
    >>> move_overhead([0.0, 0.3, 3.0, 30.0, 200.0]).tolist()
    [0.0, 20.0, 30.0, 60.0, 360.0]
    """
    from ditherlab._validation import strip_unit

    d = np.asarray(strip_unit(offset, u.arcsec, "offset"), dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise DitherlabValueError(f"offset={offset!r} must be finite and >= 0 arcsec")
    out = np.select(
        [d == 0, d < 1.25, d <= 10.0, d <= 90.0],
        [0.0, 20.0, 30.0, 60.0],
        default=360.0,
    )
    return float(out) if out.ndim == 0 else out


def pattern_overhead(pattern, aperture=None) -> float:
    """Total move overhead (s) to execute a pattern in order, starting at its first point.

    Parameters
    ----------
    pattern : Pattern
        A ``"postarg"`` pattern, or a ``"pixel"`` pattern with ``aperture`` (converted
        at the reference pixel).
    aperture : Aperture or str, optional
        Needed for pixel patterns.

    Returns
    -------
    float
        Seconds: the sum of :func:`move_overhead` over consecutive steps.
    """
    from ditherlab.planner.postargs import postarg_table

    t = postarg_table(pattern, aperture)
    xy = np.column_stack([t["postarg_x"].value, t["postarg_y"].value])
    steps = np.hypot(*np.diff(xy, axis=0).T)
    return float(np.sum(move_overhead(steps))) if len(steps) else 0.0


def _totals(total_time: Any, n: int) -> list[float]:
    """One total time per row: a scalar repeated, or a sequence of ``n`` values."""
    if np.ndim(getattr(total_time, "value", total_time)) == 0:
        T = as_float("total_time", total_time, unit=u.s, minimum=0, min_inclusive=False)
        return [T] * n
    if isinstance(total_time, u.Quantity):  # in seconds, whatever unit it came in
        values = [as_float("total_time", v, unit=u.s) for v in total_time]
    else:
        values = list(total_time)
    if len(values) != n:
        raise DitherlabValueError(
            f"total_time has {len(values)} values for {n} entries of n_exposures"
        )
    return [as_float("total_time", v, minimum=0, min_inclusive=False) for v in values]


def split_table(
    total_time: float | u.Quantity | Sequence[float],
    n_exposures: Sequence[int] = range(1, 10),
    cr_rate: float | u.Quantity = SEED_WFPC2_CR_RATE,
    source_rate: float | u.Quantity = 87 / 3000,
    sky: float | u.Quantity = 0.0,
    dark: float | u.Quantity = 0.005,
    read_noise: float | u.Quantity = 5.24,
    n_pix: float = 11.2,
    n_pixels_chip: int = 800 * 800,
    step: float | u.Quantity = 0.3,
    cr_model: str = "linear",
    exposure_overhead: float | u.Quantity = 0.0,
):
    """S/N, cosmic-ray loss and time lost side by side for N = 1 … 9 exposures.

    The defaults are the DrizzlePac Handbook's WFPC2 example (3000 s, a 24 mag point
    source in F122M; one exact fit of its S/N column, see :func:`ccd_snr`) and a
    0.3″ dither step between exposures.

    Parameters
    ----------
    total_time : float, Quantity or sequence of float
        Total science time, s; or one total per entry of ``n_exposures`` (e.g. the
        ``science_time`` column of :func:`~ditherlab.planner.pack_orbit`, when what is
        fixed is the orbit rather than the total).
    n_exposures : sequence of int, optional
        Split counts to tabulate (default 1 … 9).
    cr_rate : float or Quantity, optional
        Per-pixel cosmic-ray hit probability per second.
    source_rate, sky, dark, read_noise, n_pix
        As in :func:`ccd_snr`.
    n_pixels_chip : int, optional
        Pixels per chip, to turn the lost fraction into a count (default WFPC2 800²).
    step : float or Quantity, optional
        Size of each dither move, arcsec, for the overhead column (0 for CR-SPLITs at
        one pointing).
    cr_model : {"linear", "poisson"}, optional
        See :func:`cr_loss_fraction`.
    exposure_overhead : float or Quantity, optional
        Instrument overhead per exposure, s (read-out, buffer dump; instrument dependent,
        see its handbook's overheads chapter).  Default 0: only telescope moves are
        counted.  The DrizzlePac Handbook quotes two to three minutes per dither step
        all included.

    Returns
    -------
    astropy.table.Table
        Columns ``n_exposures``, ``exptime`` (s per exposure), ``snr``, ``snr_ratio``
        (relative to one exposure of the first row's total time), ``cr_lost_fraction``,
        ``cr_lost_pixels`` (per chip),
        ``move_overhead`` (s of telescope moves) and ``overhead`` (moves plus
        ``N × exposure_overhead``).
    """
    from astropy.table import Table

    n = np.asarray([as_int("n_exposures", k, minimum=1) for k in n_exposures])
    if n.size == 0:
        raise DitherlabValueError("n_exposures must not be empty")
    totals = _totals(total_time, len(n))
    npc = as_int("n_pixels_chip", n_pixels_chip, minimum=1)
    pairs = list(zip(totals, n, strict=True))
    snr = np.array([ccd_snr(source_rate, T, k, sky, dark, read_noise, n_pix) for T, k in pairs])
    snr1 = ccd_snr(source_rate, totals[0], 1, sky, dark, read_noise, n_pix)
    loss = np.array([cr_loss_fraction(T, k, cr_rate, cr_model) for T, k in pairs])
    T = totals if len(set(totals)) > 1 else totals[0]
    per_exp = as_float("exposure_overhead", exposure_overhead, unit=u.s, minimum=0)
    moves = (n - 1) * move_overhead(step)
    t = Table(
        {
            "n_exposures": n,
            "exptime": (np.asarray(totals) / n) * u.s,
            "snr": snr,
            "snr_ratio": snr / snr1 if snr1 > 0 else np.zeros_like(snr),
            "cr_lost_fraction": loss,
            "cr_lost_pixels": loss * npc,
            "move_overhead": moves * u.s,
            "overhead": (moves + n * per_exp) * u.s,
        }
    )
    t["exptime"].format = ".1f"
    t["snr"].format = ".2f"
    t["snr_ratio"].format = ".3f"
    t["cr_lost_fraction"].format = ".3e"
    t["cr_lost_pixels"].format = ".1f"
    rate = float(as_float("cr_rate", cr_rate, unit=1 / u.s))
    t.meta.update(total_time=T if np.ndim(T) == 0 else list(T), cr_rate=rate)
    return t
