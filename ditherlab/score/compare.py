"""Compare dither patterns side by side: one table row per pattern.

What a proposer weighs when choosing a dither, in numbers (DrizzlePac Handbook §2.2,
"Selecting the Right Dither Strategy"): cosmic-ray loss against read noise and overhead
(:mod:`ditherlab.planner.exposure`), and how well the pattern samples the sub-pixel phase
across the chip and in any parallel camera (:func:`ditherlab.score.phase_coverage`).
With ``products=True`` each pattern is also simulated, drizzled and measured
(:func:`ditherlab.score.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from astropy import units as u

from ditherlab._validation import as_float
from ditherlab.errors import DitherlabValueError
from ditherlab.score._specs import as_postarg_pattern
from ditherlab.score.depth import depth_map
from ditherlab.score.geometry import phase_coverage

__all__ = [
    "GEOMETRY_COLUMNS",
    "compare",
    "detector_defaults",
    "geometry_columns",
    "refuse_repeats",
]


def detector_defaults(aperture: Any) -> dict[str, float]:
    """Read noise (e⁻), dark (e⁻/s/pixel) and cosmic-ray rate (per pixel per s) of a camera.

    From the simulator's detector model (:func:`ditherlab.simulate.detector_model`, which
    cites the instrument handbooks); empty for cameras it does not know (JWST, Roman):
    pass the numbers to :func:`compare` instead.
    """
    from ditherlab.simulate import detector_model

    try:
        m = detector_model(aperture.instrument, aperture.detector)
    except DitherlabValueError:
        return {}
    return {"read_noise": m.read_noise, "dark": m.dark, "cr_rate": m.cr_rate}


def _exposure_columns(pat, ap, T: float, snr_args: dict, cr_rate: float, per_exp: float):
    from ditherlab.planner import ccd_snr, cr_loss_fraction, pattern_overhead

    n = len(pat)
    snr = ccd_snr(total_time=T, n_exposures=n, **snr_args)
    snr1 = ccd_snr(total_time=T, n_exposures=1, **snr_args)
    loss = cr_loss_fraction(T, n, cr_rate)
    moves = pattern_overhead(pat, ap)
    ny, nx = ap.shape
    return {
        "n_exposures": n,
        "exptime": T / n,
        "snr": snr,
        "snr_ratio": snr / snr1 if snr1 > 0 else 0.0,
        "cr_lost_fraction": loss,
        "cr_lost_pixels": loss * nx * ny,
        "move_overhead": moves,
        "overhead": moves + n * per_exp,
    }


def compare(
    patterns: Sequence[Any],
    aperture: Any,
    *,
    total_exptime: float | u.Quantity,
    parallel: Any = None,
    grid: int = 8,
    oversampling: tuple[int, int] | int = (2, 2),
    source_rate: float | u.Quantity = 1.0,
    sky: float | u.Quantity = 0.0,
    n_pix: float = 10.0,
    read_noise: float | u.Quantity | None = None,
    dark: float | u.Quantity | None = None,
    cr_rate: float | u.Quantity | None = None,
    exposure_overhead: float | u.Quantity = 0.0,
    products: bool = False,
    evaluate_kwargs: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
):
    """Score several dither patterns for one program; one row per pattern.

    Parameters
    ----------
    patterns : sequence
        Each a sub-pixel family size (2, 3, 4, 6, 8, 9), a named STScI pattern
        (``"ACS-WFC-DITHER-BOX"``), a POS TARG file, or a
        :class:`~ditherlab.planner.Pattern` (pixel patterns are converted to POS TARG at
        the reference pixel).
    aperture : Aperture or str
        Prime aperture, e.g. ``"acs-wfc"``.
    total_exptime : float or Quantity
        Total science time, s, shared equally by the exposures of each pattern.
    parallel : str, Aperture or sequence, optional
        Parallel aperture(s) whose sampling is scored too (same telescope moves).
    grid : int, optional
        Field positions per axis for the geometry scores (default 8 × 8).
    oversampling : (int, int) or int, optional
        Target sub-sampling for Lauer's η (default 2 × 2).
    source_rate : float or Quantity, optional
        Source count rate for the S/N column, e⁻/s (default 1 e⁻/s, a faint point
        source; set your own).
    sky : float or Quantity, optional
        Sky, e⁻/s/pixel (default 0: set yours from the ETC).
    n_pix : float, optional
        Effective pixels of the source (default 10; the handbook's WFPC2 example fits 11.2).
    read_noise, dark, cr_rate : float or Quantity, optional
        Detector numbers (e⁻; e⁻/s/pixel; fraction of pixels hit per s).  Default: the
        camera's (:func:`detector_defaults`).
    exposure_overhead : float or Quantity, optional
        Instrument overhead per exposure, s (read-out; see the instrument handbook's
        overheads chapter), added to the telescope moves in ``overhead``.
    products : bool, optional
        Also simulate, drizzle and measure each pattern (:func:`ditherlab.score.evaluate`;
        slow), adding its scores as columns.
    evaluate_kwargs : dict, optional
        Extra arguments for :func:`~ditherlab.score.evaluate` (``scene``, ``realisations``,
        ``rng``, ...).
    progress : callable, optional
        Called with a short message before each pattern is scored.

    Returns
    -------
    astropy.table.Table
        Columns ``pattern``, ``n_exposures``, ``exptime`` (s each), ``snr``, ``snr_ratio``
        (to one unsplit exposure), ``cr_lost_fraction`` (p^N, linear model of
        :func:`~ditherlab.planner.cr_loss_fraction`), ``cr_lost_pixels`` (per chip),
        ``move_overhead`` and ``overhead`` (s), then the geometry scores of the prime
        (``eta_mean``, ``eta_median``, ``eta_worst``, ...) and of each parallel (prefixed
        with its name), ``gap_once`` and ``gap_twice`` (fraction of the chip gap seen by at
        least one, two exposures; two-chip cameras only), and with ``products=True`` the
        product scores (prefixed ``product_``; means over the realisations, see
        :class:`~ditherlab.score.evaluate.ProductScores`).  ``meta["patterns"]`` holds
        the POS TARG patterns in row order,
        ``meta["coverage"]`` the :class:`~ditherlab.score.PhaseCoverage`,
        ``meta["depths"]`` the :class:`~ditherlab.score.SkyDepth` maps (two-chip cameras) and
        ``meta["products"]`` the :class:`~ditherlab.score.evaluate.ProductScores`.

    Examples
    --------
    >>> t = compare([2, 4], "acs-wfc", total_exptime=2200, grid=2)
    >>> t["n_exposures"].tolist(), [round(float(e)) for e in t["exptime"]]
    ([2, 4], [1100, 550])
    >>> bool(t["cr_lost_fraction"][0] > t["cr_lost_fraction"][1])
    True
    """
    from astropy.table import Table

    from ditherlab.planner import get_aperture

    ap = get_aperture(aperture)
    T = as_float("total_exptime", total_exptime, unit=u.s, minimum=0, min_inclusive=False)
    if isinstance(patterns, str | bytes) or not isinstance(patterns, Sequence):
        patterns = [patterns]
    if len(patterns) == 0:
        raise DitherlabValueError("patterns must name at least one pattern, got none")
    parallels = _parallels(parallel)
    det = detector_defaults(ap)
    snr_args, cr = _detector_numbers(det, ap, source_rate, sky, n_pix, read_noise, dark, cr_rate)
    per_exp = as_float("exposure_overhead", exposure_overhead, unit=u.s, minimum=0)
    posts = [as_postarg_pattern(p, ap, name=f"patterns[{i}]") for i, p in enumerate(patterns)]
    refuse_repeats(posts, [f"patterns[{i}]={p!r}" for i, p in enumerate(patterns)])
    if progress is not None:
        progress(f"phase coverage of {len(posts)} pattern(s) on {grid} x {grid} positions")
    coverage = phase_coverage(
        list(posts), ap, grid=grid, oversampling=oversampling, parallel=parallels or None
    )
    rows, evaluated, depths = [], [], []
    multichip = len(ap.chip_names) > 1 and ap.gap > 0
    for i, pat in enumerate(posts):
        row: dict[str, Any] = {"pattern": pat.name}
        row.update(_exposure_columns(pat, ap, T, snr_args, cr, per_exp))
        row.update(geometry_columns(coverage, i))
        if multichip:
            depths.append(depth_map(pat, ap, step=2.0))
            row.update(gap_once=depths[-1].gap_once, gap_twice=depths[-1].gap_twice)
        if products:
            if progress is not None:
                progress(f"[{i + 1}/{len(posts)}] {pat.name}: simulating and drizzling")
            scores = _product_scores(pat, ap, T, evaluate_kwargs or {})
            row.update(_product_columns(scores))
            evaluated.append(scores)
        rows.append(row)
    t = Table(rows=rows)
    _units_and_formats(t)
    a = snr_args
    t["snr"].description = (
        f"CCD-equation S/N of a {a['source_rate']:g} e-/s source over {a['n_pix']:g} pixels, "
        f"sky {a['sky']:g} e-/s/pixel, dark {a['dark']:g} e-/s/pixel, read noise "
        f"{a['read_noise']:g} e- per exposure (source_rate=, sky=, n_pix= set them)"
    )
    t["cr_lost_fraction"].description = (
        f"fraction of pixels hit in every exposure, p^N with p = {cr:g}/s x exptime"
    )
    t.meta.update(
        aperture=ap.name,
        parallels=[p.name for p in parallels],
        total_exptime=T,
        cr_rate=cr,
        read_noise=snr_args["read_noise"],
        dark=snr_args["dark"],
        source_rate=snr_args["source_rate"],
        sky=snr_args["sky"],
        n_pix=snr_args["n_pix"],
        patterns=posts,
        coverage=coverage,
        products=evaluated,
        depths=depths,
    )
    return t


def refuse_repeats(posts: Sequence[Any], labels: Sequence[str]) -> None:
    """One-line error if two POS TARG patterns are the same (the same offsets, in order).

    Offsets that agree within 0.0001″ (APT's last decimal) are the same: a pattern and its
    POS TARG file match.  ``labels[i]`` names pattern ``i`` as the user gave it (argument
    and value).

    Examples
    --------
    >>> from ditherlab.planner import Pattern
    >>> a = Pattern([[0, 0], [0.1, 0.1]], frame="postarg")
    >>> refuse_repeats([a, a], ["p[0]=a", "p[1]=b"])
    Traceback (most recent call last):
    ...
    ditherlab.errors.DitherlabValueError: p[1]=b repeats p[0]=a (the same POS TARGs); give ...
    """
    for j, b in enumerate(posts):
        for i in range(j):
            a = posts[i]
            if a.offsets.shape != b.offsets.shape or not np.allclose(
                a.offsets, b.offsets, rtol=0.0, atol=1e-4
            ):
                continue
            what = (f"{labels[j]} is given twice" if labels[j] == labels[i]
                    else f"{labels[j]} repeats {labels[i]} (the same POS TARGs)")  # fmt: skip
            raise DitherlabValueError(f"{what}; give each pattern once")


def _parallels(parallel: Any) -> list:
    from ditherlab.planner import Aperture, get_aperture

    if parallel is None:
        return []
    if isinstance(parallel, str | Aperture):
        parallel = [parallel]
    return [get_aperture(p) for p in parallel]


def _detector_numbers(det, ap, source_rate, sky, n_pix, read_noise, dark, cr_rate):
    def pick(name, value, unit):
        if value is None:
            if name not in det:
                raise DitherlabValueError(
                    f"{name}=None: no detector model for {ap.instrument}/{ap.detector}; "
                    f"pass {name}= explicitly"
                )
            return float(det[name])
        return as_float(name, value, unit=unit, minimum=0)

    snr_args = {
        "source_rate": as_float("source_rate", source_rate, unit=u.electron / u.s, minimum=0),
        "sky": as_float("sky", sky, unit=u.electron / u.s, minimum=0),
        "dark": pick("dark", dark, u.electron / u.s),
        "read_noise": pick("read_noise", read_noise, u.electron),
        "n_pix": as_float("n_pix", n_pix, minimum=0, min_inclusive=False),
    }
    return snr_args, pick("cr_rate", cr_rate, 1 / u.s)


#: The field summaries of :class:`~ditherlab.score.PhaseCoverage` shown per aperture.
GEOMETRY_COLUMNS: tuple[str, ...] = (
    "eta_mean",
    "eta_median",
    "eta_worst",
    "efficiency_mean",
    "covering_radius_mean",
    "covering_radius_worst",
    "gap_x_worst",
    "gap_y_worst",
    "clearance_worst",
)


def geometry_columns(coverage, index: int) -> dict[str, float]:
    """Field summaries of pattern ``index`` of a batched :class:`PhaseCoverage`.

    Prime columns are named as the summaries (``eta_mean``, ...); each parallel's carry
    its aperture name first (``IUVIS_eta_mean``, ...).
    """
    out: dict[str, float] = {}
    for res, prefix in [(coverage, ""), *((p, f"{p.aperture.name}_") for p in coverage.parallels)]:
        for k in GEOMETRY_COLUMNS:
            out[f"{prefix}{k}"] = float(np.atleast_1d(getattr(res, k))[index])
    return out


def _product_scores(pat, ap, T: float, kwargs: dict):
    from ditherlab.score.evaluate import evaluate

    return evaluate(pat, ap, exptime=T / len(pat), **kwargs)


def _product_columns(scores) -> dict[str, float]:
    from ditherlab.score.evaluate import SCORES

    d = scores.to_dict()
    out = {"product_final_scale": d["final_scale"], "product_final_pixfrac": d["final_pixfrac"]}
    out.update({f"product_{k}": d[k] for k in SCORES})
    return out


def _units_and_formats(t) -> None:
    for name in ("exptime", "move_overhead", "overhead"):
        t[name].unit = u.s
    fmts = {
        "exptime": ".1f",
        "snr": ".2f",
        "snr_ratio": ".3f",
        "cr_lost_fraction": ".3e",
        "cr_lost_pixels": ".1f",
        "move_overhead": ".0f",
        "overhead": ".0f",
    }
    for name in t.colnames:
        if name in fmts:
            t[name].format = fmts[name]
        elif name.startswith("gap_") and name.endswith(("once", "twice")):
            t[name].format = ".1%"
        elif t[name].dtype.kind == "f":
            t[name].format = ".3f"
