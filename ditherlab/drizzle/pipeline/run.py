"""Run the AstroDrizzle-style pipeline end to end: :func:`run_pipeline`.

Steps (AstroDrizzle's order and names): static mask → sky → separate drizzle → median
→ blot → driz_cr → final drizzle.  Every step works from the data and the headers only;
nothing here reads a simulator's truth.

References
----------
DrizzlePac Handbook §6.3 "Running AstroDrizzle"; Fruchter & Hook 2002, PASP 114, 144;
drizzlepac ``astrodrizzle.py`` and the step modules cited in each module here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ditherlab.drizzle._checks import fill_value
from ditherlab.drizzle._resample import Drizzle
from ditherlab.drizzle.pipeline.blot import blot_chip, median_coverage, median_for_blot
from ditherlab.drizzle.pipeline.config import PipelineConfig
from ditherlab.drizzle.pipeline.crdetect import driz_cr_mask
from ditherlab.drizzle.pipeline.fill import indef_values
from ditherlab.drizzle.pipeline.geometry import PipelineGeometry, build_geometry
from ditherlab.drizzle.pipeline.inputs import InputExposure, load_inputs
from ditherlab.drizzle.pipeline.masks import dq_good_mask, reset_bits, static_mask, static_stats
from ditherlab.drizzle.pipeline.median import combine_singles
from ditherlab.drizzle.pipeline.products import PipelineProducts
from ditherlab.drizzle.pipeline.sky import chip_sky, compute_sky
from ditherlab.drizzle.pipeline.workers import map_items, output_arrays, will_fork, worker_split
from ditherlab.errors import DitherlabTypeError

__all__ = ["run_pipeline"]

Progress = Callable[[str, int, int], None]


def _config(config: Any, overrides: dict[str, Any]) -> PipelineConfig:
    if config is None:
        config = PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise DitherlabTypeError(f"config={config!r} must be a PipelineConfig or None")
    return config.replace(**overrides) if overrides else config


def _apply_overrides(exps: list[InputExposure], cfg: PipelineConfig) -> list[InputExposure]:
    """Header overrides ``exptime`` and ``rdnoise`` (``gain`` is applied when reading).

    The ERR arrays are dropped unless ``final_wht_type="ERR"`` reads them (268 MB for
    four ACS/WFC exposures read from files).
    """
    import dataclasses

    out = []
    for e in exps:
        if cfg.exptime is not None:
            e = dataclasses.replace(e, exptime=cfg.exptime)
        if cfg.rdnoise is not None:
            chips = tuple(dataclasses.replace(c, rdnoise=cfg.rdnoise) for c in e.chips)
            e = dataclasses.replace(e, chips=chips)
        if cfg.final_wht_type != "ERR":
            e = dataclasses.replace(e, chips=tuple(dataclasses.replace(c, err=None)
                                                   for c in e.chips))  # fmt: skip
        out.append(e)
    return out


def _static_masks(exps, cfg) -> list[list[np.ndarray | None]]:
    """Static mask per chip signature (instrument, detector, shape, CCDCHIP), or None.

    The statistics of the chips are computed in worker processes (:func:`_chip_stats`).
    """
    if not cfg.static:
        return [[None] * len(e.chips) for e in exps]
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for i, e in enumerate(exps):
        for j, c in enumerate(e.chips):
            groups.setdefault((e.instrument, e.detector, c.shape, c.ccdchip), []).append((i, j))
    chips = [(i, j) for members in groups.values() for i, j in members]
    stats = dict(zip(chips, _chip_stats(exps, cfg, [(exps[i].chips[j].sci,) for i, j in chips],
                                        static_stats), strict=True))  # fmt: skip
    out: list[list[np.ndarray | None]] = [[None] * len(e.chips) for e in exps]
    for members in groups.values():
        m = static_mask([exps[i].chips[j].sci for i, j in members], cfg.static_sig,
                        [stats[k] for k in members])  # fmt: skip
        for i, j in members:
            out[i][j] = m
    return out


def _sky_of(cfg):
    return lambda data, good: chip_sky(data, good, cfg)


def _chip_stats(exps, cfg, items, func) -> list:
    """``func(*item)`` for every item (a chip's arrays), in ``num_cores`` processes."""
    outer, _ = worker_split(cfg, len(items), max(c.sci.size for e in exps for c in e.chips))
    values = []
    map_items(lambda item: (func(*item),), items, lambda res: values.append(res[0]), outer, 64)
    return values


def _good_masks(dqs, statics, bits, use_static=True) -> list[list[np.ndarray]]:
    """Good-pixel masks per chip: DQ with ``bits`` good, and the static mask."""
    out = []
    for drow, srow in zip(dqs, statics, strict=True):
        row = []
        for dq, st in zip(drow, srow, strict=True):
            m = dq_good_mask(dq, bits)
            if use_static and st is not None:
                m &= st
            row.append(m)
        out.append(row)
    return out


def _later_masks(dqs, statics, cfg) -> dict[str, Any]:
    """The good-pixel masks the steps after the sky need, so that the DQ can be dropped.

    ``sep`` (driz_sep_bits and the static mask), ``final`` (final_bits and the static
    mask), ``crgood`` (DQ with no bit but ``crbit``, for ``driz_cr_corr``): boolean, an
    eighth of the uint16 DQ and its reset copy together.
    """
    crgood = None
    if cfg.driz_cr_corr:
        crgood = [[dq_good_mask(dq, cfg.crbit) for dq in row] for row in dqs]
    return {
        "sep": _good_masks(dqs, statics, cfg.driz_sep_bits) if cfg.driz_separate else None,
        "final": _good_masks(dqs, statics, cfg.final_bits) if cfg.driz_combine else None,
        "crgood": crgood,
    }


def _without_dq(exps: list[InputExposure]) -> list[InputExposure]:
    """The exposures without their DQ arrays (read no more once :func:`_later_masks` ran)."""
    import dataclasses

    return [dataclasses.replace(e, chips=tuple(dataclasses.replace(c, dq=None) for c in e.chips))
            for e in exps]  # fmt: skip


def _updated_dq(dqs, crs, crbit: int) -> tuple[tuple[np.ndarray, ...], ...]:
    """Copies of the (reset) DQ arrays with ``crbit`` set on the cosmic rays."""
    bit = np.uint16(crbit & 0xFFFF)
    return tuple(
        tuple((dq | np.where(m, bit, np.uint16(0))).astype(np.uint16)
              for dq, m in zip(drow, mrow, strict=True))
        for drow, mrow in zip(dqs, crs, strict=True)
    )  # fmt: skip


def _weight_scale(wt_scl: Any, exptime: float) -> float:
    if wt_scl == "exptime":
        return exptime
    if wt_scl == "expsq":
        return exptime * exptime
    return float(wt_scl)


def _separate(exps, masks, sky, geo, cfg, progress) -> tuple[list, list]:
    """Single drizzle of every exposure onto the separate grid (e⁻/s, sky removed).

    The workers drizzle into arrays made here (shared memory when they are forked
    processes), so no output is copied.  They start as NaN and zero weight: a new
    ``Drizzle``'s outputs with an INDEF fill (a numeric fill is applied by the first add).
    """
    n = len(exps)
    outer, inner = worker_split(cfg, n, max(c.sci.size for e in exps for c in e.chips))
    shared = will_fork(outer, n)
    singles = output_arrays(n, geo.sep_shape, np.float32, np.nan, shared)
    weights = output_arrays(n, geo.sep_shape, np.float32, 0.0, shared)
    fill = np.nan if fill_value(cfg.driz_sep_fillval, False) is None else cfg.driz_sep_fillval

    def single(i):
        e = exps[i]
        d = Drizzle(kernel=cfg.driz_sep_kernel, out_img=singles[i], out_wht=weights[i],
                    fillval=fill, disable_ctx=True, n_threads=inner)  # fmt: skip
        for j, c in enumerate(e.chips):
            data = c.sci if sky[i][j] == 0 else c.sci - np.float32(sky[i][j])
            s = geo.sep_ratio[i][j]
            d.add_image(
                data, e.exptime, geo.sep_pixmaps[i][j], weight_map=masks[i][j].astype(np.float32),
                wht_scale=_weight_scale(cfg.driz_sep_wt_scl, e.exptime),
                pixfrac=cfg.driz_sep_pixfrac, in_units="counts", iscale=s * s,
                pixel_scale_ratio=s,
            )  # fmt: skip
        return ()

    done = [0]

    def take(res):
        done[0] += 1
        if progress:
            progress("driz_separate", done[0], n)

    map_items(single, list(range(n)), take, outer, 64)
    return singles, weights


def _blot_and_detect(exps, median, weights, sky, geo, cfg, progress, crgood):
    """Blot the median to every chip and find the cosmic rays there.

    With ``driz_cr_corr`` the cleaned chip takes the blot where a pixel is a cosmic ray
    or flagged in DQ by any bit but ``crbit`` (drizzlepac ``drizCR``: ``buildMask(chip,
    crbit)`` ANDed with the CR mask).  The chips are independent: they are spread over
    worker processes (:func:`.workers.worker_split`).
    """
    n = len(exps)
    covered = median_coverage(weights, cfg)
    median = median_for_blot(median, weights, cfg, covered)
    items = [(i, j) for i, e in enumerate(exps) for j in range(len(e.chips))]
    outer, inner = worker_split(cfg, len(items), max(c.sci.size for e in exps for c in e.chips))
    bcfg = cfg if inner == cfg.num_cores else cfg.replace(num_cores=inner)

    def chip(item):
        i, j = item
        e, c = exps[i], exps[i].chips[item[1]]
        b = blot_chip(median, geo.sep_pixmaps[i][j], geo.sep_ratio[i][j], e.exptime,
                      sky.computed[i][j], bcfg)  # fmt: skip
        if cfg.driz_cr_noise == "astrodrizzle":
            noise_sky = sky.subtracted[i][j]
        else:  # count the sky once: only what the user removed from the data
            noise_sky = sky.subtracted[i][j] - sky.computed[i][j]
        m = driz_cr_mask(
            c.sci, b, noise_sky, c.rdnoise, snr=cfg.driz_cr_snr, scale=cfg.driz_cr_scale,
            grow=cfg.driz_cr_grow, ctegrow=cfg.driz_cr_ctegrow, cte_dir=c.cte_dir,
            peak=cfg.driz_cr_peak,
        )  # fmt: skip
        if not cfg.driz_cr_corr:
            return (m,)
        bad = m | ~crgood[i][j]
        return m, np.where(bad, b, c.sci).astype(np.float32)

    crs = [[None] * len(e.chips) for e in exps]
    cleans = [[None] * len(e.chips) for e in exps]
    done = [0]

    def take(res):
        i, j = items[done[0]]
        crs[i][j] = np.array(res[0], copy=True)
        if cfg.driz_cr_corr:
            cleans[i][j] = np.array(res[1], copy=True)
        done[0] += 1
        if progress and j == len(exps[i].chips) - 1:
            progress("driz_cr", i + 1, n)

    nbytes = 5 * max(c.sci.size for e in exps for c in e.chips) + 64
    map_items(chip, items, take, outer, nbytes)
    crs = tuple(tuple(row) for row in crs)
    return crs, (tuple(tuple(row) for row in cleans) if cfg.driz_cr_corr else None)


def _final_weight(e, c, mask, sky, s, cfg) -> tuple[np.ndarray, float]:
    """Weight map and scale of a chip for ``final_wht_type`` (``adrizzle.py``)."""
    if cfg.final_wht_type == "EXP":
        return mask, _weight_scale(cfg.final_wt_scl, e.exptime)
    if cfg.final_wht_type == "ERR":
        if c.err is None:
            from ditherlab.errors import DitherlabValueError

            raise DitherlabValueError(f"final_wht_type='ERR' but {e.name!r} has no ERR array")
        err = np.asarray(c.err, np.float32)
        ok = np.isfinite(err) & (err > 0)
        w = np.where(ok, mask / np.where(ok, err, 1) ** 2, 0).astype(np.float32)
        return w, e.exptime**2 / s**4
    # IVM from the noise model: flat 1, dark·t + sky + RN² (e⁻²)
    var = e.dark * e.exptime + max(sky, 0.0) + c.rdnoise**2
    return mask, e.exptime**2 / s**4 / max(var, 1e-30)


def _final(exps, masks, crs, sky, geo, cfg, progress):
    nchips = sum(len(e.chips) for e in exps)
    d = Drizzle(kernel=cfg.final_kernel, out_shape=geo.final_shape, fillval=cfg.final_fillval,
                disable_ctx=not cfg.context, max_ctx_id=max(nchips - 1, 0),
                n_threads=cfg.num_cores)  # fmt: skip
    k = 0
    for i, e in enumerate(exps):
        for j in range(len(e.chips)):
            data, w, wscale, s = _final_input(exps, masks, crs, sky, geo, cfg, i, j)
            d.add_image(data, e.exptime, geo.final_pixmaps[i][j], weight_map=w, wht_scale=wscale,
                        pixfrac=cfg.final_pixfrac, in_units="counts", iscale=s * s,
                        pixel_scale_ratio=s)  # fmt: skip
            k += 1
            if progress:
                progress("driz_combine", k, nchips)
    sci, wht = d.out_img, d.out_wht
    if cfg.final_fillval is None:  # INDEF: what AstroDrizzle leaves in pixels of zero weight
        idx, vals = indef_values(wht, _indef_inputs(exps, masks, crs, sky, geo, cfg),
                                 cfg.final_kernel, cfg.final_pixfrac)  # fmt: skip
        sci.reshape(-1)[idx] = vals
    return sci, wht, (d.out_ctx if cfg.context else None)


def _chip_weight(exps, masks, crs, sky, geo, cfg, i, j, mask_dtype=None):
    """``(weight_map, wht_scale, ratio)`` of chip ``j`` of exposure ``i`` in the final drizzle.

    The good-pixel mask (no cosmic ray) stays boolean unless ``mask_dtype`` is given: its
    zeros are the same either way.
    """
    e, c = exps[i], exps[i].chips[j]
    good = masks[i][j] if crs is None else masks[i][j] & ~crs[i][j]
    if mask_dtype is not None:
        good = good.astype(mask_dtype)
    s = geo.final_ratio[i][j]
    w, wscale = _final_weight(e, c, good, sky.subtracted[i][j], s, cfg)
    return w, wscale, s


def _final_input(exps, masks, crs, sky, geo, cfg, i, j):
    """``(data, weight_map, wht_scale, ratio)`` of chip ``j`` of exposure ``i``."""
    c = exps[i].chips[j]
    # boolean until now: one float32 mask at a time
    w, wscale, s = _chip_weight(exps, masks, crs, sky, geo, cfg, i, j, np.float32)
    data = c.sci if sky.computed[i][j] == 0 else c.sci - np.float32(sky.computed[i][j])
    return data, w, wscale, s


def _indef_inputs(exps, masks, crs, sky, geo, cfg):
    """The inputs of the final drizzle again, for :func:`.fill.indef_values` (one at a time).

    The fill reads only where the weights are zero and the data in a few blocks around
    those pixels: the weight stays the boolean mask where that is what the drizzle used
    (its zeros are the same), and the sky is subtracted from the blocks read only.
    """
    for i, e in enumerate(exps):
        for j, c in enumerate(e.chips):
            w, wscale, s = _chip_weight(exps, masks, crs, sky, geo, cfg, i, j)
            if wscale == 0:
                w = np.zeros_like(w)
            data = c.sci if sky.computed[i][j] == 0 else _SkySubtracted(c.sci, sky.computed[i][j])
            yield data, w, geo.final_pixmaps[i][j], e.exptime, s * s, s


class _SkySubtracted:
    """``sci - float32(sky)``, computed on the slices read only (as :func:`_final_input`)."""

    def __init__(self, sci: np.ndarray, sky: float) -> None:
        self._sci, self._sky = sci, np.float32(sky)
        self.shape = sci.shape

    def __getitem__(self, key):
        return self._sci[key] - self._sky


def run_pipeline(
    inputs: Any,
    config: PipelineConfig | None = None,
    *,
    progress: Progress | None = None,
    geometry: PipelineGeometry | None = None,
    **overrides: Any,
) -> PipelineProducts:
    """Drizzle-combine exposures with AstroDrizzle's steps, finding cosmic rays from the data.

    Parameters
    ----------
    inputs : Exposure, path, or a list of them
        :class:`~ditherlab.simulate.Exposure` objects and/or ``*_flt.fits``/``*_flc.fits``
        paths (ditherlab's or real HST files with SCI/ERR/DQ and a FITS WCS), one or more
        chips each, all from one camera.  They are never modified.
    config : PipelineConfig, optional
        Parameters (default: AstroDrizzle's offline defaults; see
        :meth:`PipelineConfig.for_instrument` for the pipeline's).
    progress : callable, optional
        Called as ``progress(step, done, total)`` as the steps advance (``step`` is an
        AstroDrizzle step name: ``static``, ``sky``, ``driz_separate``, ``median``,
        ``driz_cr``, ``driz_combine``; ``geometry`` before them).
    geometry : PipelineGeometry, optional
        Grids and pixmaps from :func:`build_geometry` or an earlier run's
        ``products.geometry``: skips the geometry (Monte Carlo realisations of one
        pointing).  It must have been built for chips of the same shapes and the same
        grid parameters.
    **overrides
        Parameters changed from ``config`` (AstroDrizzle names; unknown names are refused).

    Returns
    -------
    PipelineProducts

    Raises
    ------
    DitherlabValueError
        Unknown parameter names, bad values, inputs from different cameras or that do not
        overlap.
    FileNotFoundError, FileFormatError
        Unreadable, truncated or incomplete input files.

    Examples
    --------
    >>> from ditherlab.planner import subpixel
    >>> from ditherlab.simulate import Scene, observe
    >>> scene = Scene.random_field(100, size=8.0, sky=40.0, rng=2)
    >>> exps = observe(scene, subpixel(3), "acs-wfc1", 300.0, chips=[1],
    ...                subarray=(2000, 1000, 80, 80), rng=2)
    >>> p = run_pipeline(exps, final_bits=336, driz_sep_bits=336)
    >>> len(p.cr_masks), p.cr_masks[0][0].shape, p.sci.dtype.name
    (3, (80, 80), 'float32')
    """
    cfg = _config(config, overrides)
    clock = _Clock()
    exps = _apply_overrides(load_inputs(inputs, cfg.gain), cfg)
    clock.tick("init")
    if geometry is None:
        geometry = build_geometry(exps, cfg)
    elif not isinstance(geometry, PipelineGeometry):
        raise DitherlabTypeError(f"geometry={geometry!r} must be a PipelineGeometry")
    geometry.check(exps)
    if progress:
        progress("geometry", 1, 1)
    clock.tick("geometry")
    dqs = [[reset_bits(c.dq, cfg.resetbits) for c in e.chips] for e in exps]
    statics = _static_masks(exps, cfg)
    if progress:
        progress("static", 1, 1)
    clock.tick("static")

    def masks_for(bits, use_static=True):
        return _good_masks(dqs, statics, bits, use_static)

    sky = compute_sky(exps, masks_for(cfg.sky_bits, cfg.use_static), cfg, geometry,
                      lambda items: _chip_stats(exps, cfg, items, _sky_of(cfg)))  # fmt: skip
    later = _later_masks(dqs, statics, cfg)
    if not cfg.update_dq:  # memory: the DQ arrays are read no more
        dqs = None
    exps = _without_dq(exps)
    if progress:
        progress("sky", 1, 1)
    clock.tick("sky")
    singles, weights, median, crs, crclean = _reject_cosmic_rays(
        exps, later, sky, geometry, cfg, progress, clock
    )
    crmask_for_final = crs
    if crs is None:
        crs = tuple(tuple(np.zeros(c.shape, bool) for c in e.chips) for e in exps)
    if cfg.driz_combine:
        sci, wht, ctx = _final(exps, later.pop("final"), crmask_for_final, sky, geometry, cfg,
                               progress)  # fmt: skip
        if cfg.final_units == "counts":  # AstroDrizzle: cps × the total exposure time
            sci = sci * np.float32(sum(e.exptime for e in exps))
        clock.tick("driz_combine")
    else:
        sci = np.full(geometry.final_shape, np.nan, np.float32)
        wht = np.zeros(geometry.final_shape, np.float32)
        ctx = None
    dq_out = _updated_dq(dqs, crs, cfg.crbit) if cfg.update_dq else None
    for row in crs:
        for m in row:
            m.setflags(write=False)
    keep = not cfg.clean
    return PipelineProducts(
        sci=sci,
        wht=wht,
        ctx=ctx,
        wcs=geometry.final_wcs,
        cr_masks=crs,
        sky=sky.subtracted,
        config=cfg,
        names=tuple(e.name for e in exps),
        instrument=exps[0].instrument,
        detector=exps[0].detector,
        exptime=float(sum(e.exptime for e in exps)),
        chip_ids=tuple(tuple((c.extver, c.ccdchip) for c in e.chips) for e in exps),
        geometry=geometry,
        sky_computed=sky.computed,
        sky_method=sky.method,
        singles=tuple(singles) if keep and singles is not None else None,
        single_weights=tuple(weights) if keep and weights is not None else None,
        median=median if keep else None,
        crclean=crclean,
        dq=dq_out,
        timings=dict(clock.times),
        exptimes=tuple(e.exptime for e in exps),
    )


class _Clock:
    """Wall time per step (``products.timings``)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def tick(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = self.times.get(name, 0.0) + now - self._t0
        self._t0 = now


def _reject_cosmic_rays(exps, later, sky, geometry, cfg, progress, clock):
    """Separate drizzle, median, blot and driz_cr, as far as ``cfg`` enables them.

    Returns ``(singles, weights, median, crs, crclean)``; the steps not run give None.
    """
    singles = weights = median = crs = crclean = None
    if cfg.driz_separate:
        sep_masks = later.pop("sep")  # boolean: float32 one exposure at a time
        singles, weights = _separate(exps, sep_masks, sky.computed, geometry, cfg, progress)
        del sep_masks
        clock.tick("driz_separate")
    if cfg.driz_separate and cfg.median:
        mins = [min(row) for row in sky.subtracted]
        rn = [float(np.sqrt(np.mean([c.rdnoise**2 for c in e.chips]))) for e in exps]
        median = combine_singles(singles, weights, cfg, mins, [e.exptime for e in exps], rn)
        if progress:
            progress("median", 1, 1)
        clock.tick("median")
    if median is not None and cfg.blot and cfg.driz_cr:
        crs, crclean = _blot_and_detect(
            exps, median, weights, sky, geometry, cfg, progress, later["crgood"]
        )
        clock.tick("blot+driz_cr")
    return singles, weights, median, crs, crclean
