"""Output grids and per-chip pixmaps, computed once and shared by every step.

The single drizzles, the blot and the final drizzle all need, for every input chip, the
position of each of its pixels on an output grid (a *pixmap*).  :func:`build_geometry`
computes them once (one pixmap per chip for the single-drizzle grid, and one for the
final grid if it differs) and :func:`~ditherlab.drizzle.pipeline.run_pipeline` accepts the
result, so Monte Carlo realisations on one pointing skip the geometry entirely.

Pixmaps are stored as read-only float32 arrays (the output coordinates to ~5e-4 pixel
below 8192, inside the 1e-3 pixel tolerance of
:func:`~ditherlab.drizzle.pixmap_from_wcs`), half the memory of float64: 67 MB per
2048 × 4096 chip.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ditherlab.drizzle._pixmap import pixmap_from_wcs
from ditherlab.errors import DitherlabValueError, FileFormatError

__all__ = ["PipelineGeometry", "build_geometry", "output_wcs"]

#: Largest output grid accepted (pixels): inputs that do not overlap make huge grids.
MAX_OUTPUT_PIXELS = 400_000_000


@dataclasses.dataclass(frozen=True, eq=False)
class PipelineGeometry:
    """The output grids and the pixmaps of every chip onto them.

    Attributes
    ----------
    sep_wcs, final_wcs : astropy.wcs.WCS
        Grids of the single drizzles (and median) and of the final product.
    sep_shape, final_shape : (int, int)
        Their ``(ny, nx)``.
    sep_pixmaps, final_pixmaps : tuple of tuple of ndarray
        ``[i][j]``: ``(ny, nx, 2)`` float32 output x, y of every pixel of chip ``j`` of
        exposure ``i``.  The same arrays when the two grids are the same.
    sep_ratio, final_ratio : tuple of tuple of float
        Output pixel size in input pixels (``final_scale / IDCSCALE``) per chip.
    chip_shapes : tuple of tuple of (int, int)
        Input chip shapes (checked when the geometry is reused).
    """

    sep_wcs: Any
    sep_shape: tuple[int, int]
    final_wcs: Any
    final_shape: tuple[int, int]
    sep_pixmaps: tuple[tuple[np.ndarray, ...], ...]
    final_pixmaps: tuple[tuple[np.ndarray, ...], ...]
    sep_ratio: tuple[tuple[float, ...], ...]
    final_ratio: tuple[tuple[float, ...], ...]
    chip_shapes: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def shared(self) -> bool:
        """True when the single-drizzle and final grids are the same."""
        return self.final_pixmaps is self.sep_pixmaps

    def check(self, exposures: list[Any]) -> None:
        """Refuse a geometry built for other inputs (different chips or shapes)."""
        shapes = tuple(tuple(c.shape for c in e.chips) for e in exposures)
        if shapes != self.chip_shapes:
            raise DitherlabValueError(
                f"geometry was built for chips of shapes {self.chip_shapes}, "
                f"not {shapes}: build it again for these inputs"
            )


def _edges(shape: tuple[int, int], n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Points along the outline of a chip (pixel edges, 0-based)."""
    h, v = shape
    t = np.linspace(-0.5, v - 0.5, n)
    u = np.linspace(-0.5, h - 0.5, n)
    x = np.r_[t, np.full(n, v - 0.5), t, np.full(n, -0.5)]
    y = np.r_[np.full(n, -0.5), u, np.full(n, h - 0.5), u]
    return x, y


def _corner_sky(exposures: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sky (ra, dec) of the centres of every chip's four corner pixels.

    Distortion included, as astropy's ``WCS.calc_footprint`` that stwcs' ``output_wcs`` uses.
    """
    ras, decs = [], []
    for e in exposures:
        for ch in e.chips:
            ny, nx = ch.shape
            r, d = ch.wcs.pixel_to_world_values([0, 0, nx - 1, nx - 1], [0, ny - 1, ny - 1, 0])
            ras.append(np.asarray(r, float))
            decs.append(np.asarray(d, float))
    return np.concatenate(ras), np.concatenate(decs)


def _check_hemisphere(exposures: list[Any], ra: np.ndarray, dec: np.ndarray) -> None:
    """Refuse, by name, a chip 90° or more from the first chip (no tangent plane holds both)."""
    a, d = np.deg2rad(ra), np.deg2rad(dec)
    v = np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)
    far = ~(v @ v[0] > 0.0)  # NaN positions count as far
    if far.any():
        k = int(np.argmax(far)) // 4
        e, ch = [(e, ch) for e in exposures for ch in e.chips][k]
        raise DitherlabValueError(
            f"input {e.name!r} (SCI,{ch.extver}): it lies 90° or more from "
            f"{exposures[0].name!r} on the sky: the inputs do not overlap"
        )


def _mean_direction(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    """(ra, dec) of the mean of the points' unit vectors (stwcs ``computeFootprintCenter``)."""
    a, d = np.deg2rad(ra), np.deg2rad(dec)
    x, y = np.mean(np.cos(d) * np.cos(a)), np.mean(np.cos(d) * np.sin(a))
    z = np.mean(np.sin(d))
    ra0 = float(np.rad2deg(np.arctan2(y, x)) % 360.0)
    return ra0, float(np.rad2deg(np.arctan2(z, np.hypot(x, y))))


def _tan_wcs(crval: Any, scale_deg: float, orient: float) -> Any:
    """A TAN WCS, CRPIX (0, 0), square pixels of ``scale_deg``, +y ``orient`` deg E of N."""
    from astropy.wcs import WCS

    c, s = np.cos(np.deg2rad(orient)), np.sin(np.deg2rad(orient))
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(crval[0]), float(crval[1])]
    w.wcs.crpix = [0.0, 0.0]
    w.wcs.cd = scale_deg * np.array([[-c, s], [s, c]])
    w.wcs.set()
    return w


#: Sign of the x axis in stwcs' detector parity matrix ``diag(p, -p)``
#: (``stwcs.wcsutil.instruments``); other instruments and detectors: ``+1``.
_PARITY_X = {("ACS", "HRC"): -1.0, ("ACS", "SBC"): -1.0, ("WFC3", "UVIS"): -1.0,
             ("WFC3", "IR"): -1.0, ("WFPC2", None): -1.0, ("NICMOS", None): -1.0,
             ("STIS", None): -1.0}  # fmt: skip


def _troll(pa_v3: float, dec: float, v2: float, v3: float) -> float:
    """Position angle (deg) of V3 at an aperture, from the roll ``pa_v3`` at the V1 axis.

    ``v2``, ``v3``: the aperture's position (arcsec); ``dec``: its declination.  The
    spherical triangle of stwcs ``updatewcs.makewcs.troll`` (after Colin Cox).
    """
    r, d = np.deg2rad(pa_v3), np.deg2rad(dec)
    a2, a3 = np.deg2rad(v2 / 3600.0), np.deg2rad(v3 / 3600.0)
    sin_rho = np.sqrt(np.sin(a2) ** 2 + np.sin(a3) ** 2 - np.sin(a2) ** 2 * np.sin(a3) ** 2)
    if sin_rho == 0.0:
        raise DitherlabValueError(
            "IDCV2REF = IDCV3REF = 0: the aperture is on the V1 axis, where the roll at the "
            "aperture is undefined; remove the keywords to orient the grid by the CD matrix"
        )
    rho = np.arcsin(sin_rho)
    beta = np.arcsin(np.sin(a3) / sin_rho)
    beta = np.pi - beta if a2 < 0 else beta
    gamma = np.arcsin(np.sin(a2) / sin_rho)
    gamma = np.pi - gamma if a3 < 0 else gamma
    big_a = np.pi / 2.0 + r - beta
    big_b = np.arctan2(np.sin(big_a) * np.cos(d),
                       np.sin(d) * sin_rho - np.cos(d) * np.cos(rho) * np.cos(big_a))  # fmt: skip
    return float(np.rad2deg(np.pi - (gamma + big_b)))


def _first_orientation(exposure: Any) -> float:
    """Orientation (deg) of the default grid's +y: stwcs ``make_orthogonal_cd``.

    From the telescope roll when the first chip's header has ``IDCV2REF`` (and ``PA_V3``):
    the roll at the aperture plus ``IDCTHETA``, through the detector's parity (real flt
    files); else the angle of the chip's CD y column, ``ORIENTAT`` (ditherlab's files).
    """
    ch = exposure.chips[0]
    h = ch.header
    if all(h.get(k) is not None for k in ("IDCV2REF", "IDCV3REF", "PA_V3")):
        dec = float(ch.wcs.wcs.crval[1])
        pv = np.deg2rad(_troll(float(h["PA_V3"]), dec, float(h["IDCV2REF"]),
                               float(h["IDCV3REF"])) + float(h.get("IDCTHETA") or 0.0))  # fmt: skip
        px = _PARITY_X.get((exposure.instrument, exposure.detector),
                           _PARITY_X.get((exposure.instrument, None), 1.0))  # fmt: skip
        # [[cos, sin], [-sin, cos]] @ diag(px, -px): the angle of its y column
        return float(np.degrees(np.arctan2(-np.sin(pv) * px, -np.cos(pv) * px)))
    m = ch.wcs.celestial.pixel_scale_matrix
    return float(np.degrees(np.arctan2(m[0, 1], m[1, 1])))


def _default_grid(exposures: list[Any]) -> tuple[Any, tuple[int, int], float, float]:
    """AstroDrizzle's default grid (see :func:`output_wcs`).

    Returns the WCS, its ``(naxis1, naxis2)``, and the scale (arcsec) and orientation (deg)
    drizzlepac records with it and uses for the user's values.
    """
    ra, dec = _corner_sky(exposures)
    _check_hemisphere(exposures, ra, dec)
    w = _tan_wcs(_mean_direction(ra, dec), exposures[0].chips[0].idcscale / 3600.0,
                 _first_orientation(exposures[0]))  # fmt: skip
    x, y = w.wcs_world2pix(ra, dec, 0)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DitherlabValueError(
            f"the inputs' corners do not all project onto one tangent plane (first input "
            f"{exposures[0].name!r}): the inputs do not overlap"
        )
    naxis = (max(1, int(np.ceil(np.ptp(x)))), max(1, int(np.ceil(np.ptp(y)))))
    w.wcs.crpix = [naxis[0] / 2.0, naxis[1] / 2.0]
    w.wcs.set()
    x, y = w.wcs_world2pix(ra, dec, 0)
    # move the tangent point so that the lowest corner centre lands on pixel 0 (0-based)
    w.wcs.crval = w.wcs_pix2world([[naxis[0] / 2.0 + x.min(), naxis[1] / 2.0 + y.min()]], 1)[0]
    cd = w.wcs.cd
    pscale = float(np.sqrt(cd[0, 0] ** 2 + cd[1, 0] ** 2) * 3600.0)
    orient = float(np.degrees(np.arctan2(cd[0, 1], cd[1, 1])))
    # drizzlepac's "perfect" CD, rebuilt from that scale and orientation
    c, s = np.cos(np.deg2rad(orient)), np.sin(np.deg2rad(orient))
    w.wcs.cd = pscale / 3600.0 * np.array([[-c, s], [s, c]])
    w.wcs.set()
    return w, naxis, pscale, orient


def _user_grid(w: Any, naxis: tuple[int, int], pscale: float, orient: float,
               scale, rot, shape, center) -> tuple[int, int]:  # fmt: skip
    """Apply the user's values to ``w`` in place; return the new ``(naxis1, naxis2)``.

    As drizzlepac's ``wcs_functions.mergeWCS`` (see :func:`output_wcs`).
    """
    ratio = None
    if scale is not None and not np.isclose(float(scale), pscale, rtol=10 * np.finfo(float).eps,
                                            atol=100 * np.finfo(float).tiny):  # fmt: skip
        ratio = pscale / float(scale)
    drot = None if rot is None or orient - rot == 0.0 else orient - rot
    crpix = np.array(w.wcs.crpix, float)
    if drot is not None:
        c, s = np.cos(np.deg2rad(drot)), np.sin(np.deg2rad(drot))
        turn = np.array([[c, s], [-s, c]])
    if shape is not None:
        naxis, crpix = (int(shape[1]), int(shape[0])), (np.array(shape[::-1], float) + 1.0) / 2.0
    elif drot is not None:
        n1, n2 = naxis
        corners = np.array([[0.5, 0.5], [n1 + 0.5, 0.5], [0.5, n2 + 0.5], [n1 + 0.5, n2 + 0.5]])
        corners = ((corners - crpix) * (1.0 if ratio is None else ratio)) @ turn
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        naxis = tuple(max(1, int(np.ceil(v))) for v in hi - lo)
        crpix = 0.5 - lo
    elif ratio is not None:
        naxis = tuple(max(1, int(np.ceil(ratio * n))) for n in naxis)
        crpix = 1.0 + ratio * (crpix - 1.0)
    cd = w.wcs.cd if ratio is None else w.wcs.cd / ratio
    w.wcs.cd = cd if drot is None else cd @ turn
    w.wcs.crpix = crpix
    if center is not None:
        w.wcs.crval = [float(center[0]), float(center[1])]
    w.wcs.set()
    return naxis


def output_wcs(
    exposures: list[Any],
    scale: float | None = None,
    rot: float | None = None,
    *,
    shape: tuple[int, int] | None = None,
    center: tuple[float, float] | None = None,
) -> tuple[Any, tuple[int, int]]:
    """AstroDrizzle's output grid: a distortion-free TAN grid covering every chip.

    The default grid is drizzlepac 3.11's (``wcs_functions.make_outputwcs`` with
    ``perfect=True``, built by stwcs' ``distortion.utils.output_wcs``):

    * pixels of the first chip's ``IDCSCALE``, square, east to the left, with +y at the
      first chip's ``ORIENTAT`` (the angle of its CD matrix's y column; stwcs
      ``make_orthogonal_cd``), or, when its header has ``IDCV2REF`` (pipeline-processed
      flt files), at the roll at its aperture (``PA_V3``, ``IDCV2REF``, ``IDCV3REF``)
      plus ``IDCTHETA``, through the detector's parity;
    * the four corner-pixel centres of every chip (distortion included) are projected
      about the mean of their unit vectors; the size is the ceiling of their extent,
      ``CRPIX = NAXIS / 2`` (1-based), and ``CRVAL`` is moved so that the lowest corner
      centre falls on the centre of the first pixel.  The highest falls up to one pixel
      past the last pixel centre, so up to one pixel of a chip's outer edge lies outside
      the grid, as in AstroDrizzle.

    The user's values change it as ``wcs_functions.mergeWCS`` does: ``scale`` (unless equal
    to ``IDCSCALE``) divides the CD matrix and, without ``rot`` or ``shape``, scales the size
    (ceiling) and ``CRPIX − 1``; ``rot`` turns the grid about ``CRPIX`` and, without
    ``shape``, resizes it to hold the old grid's (scaled) outline; ``shape`` puts ``CRPIX`` at
    the centre (``(n + 1) / 2``); ``center`` replaces ``CRVAL``, the rest unchanged.

    Parameters
    ----------
    exposures : list of InputExposure
        The inputs; the first chip of the first one sets the default scale and orientation.
    scale : float, optional
        Arcsec per output pixel (``driz_sep_scale``/``final_scale``).
    rot : float, optional
        Position angle of the output +y (deg east of north; ``*_rot``).
    shape : (ny, nx), optional
        Output size (``final_outny``, ``final_outnx``).
    center : (ra, dec), optional
        Sky position of ``CRPIX`` (``final_ra``, ``final_dec``).

    Returns
    -------
    wcs : astropy.wcs.WCS
        With ``pixel_shape`` set.
    shape : (int, int)
        ``(ny, nx)``.
    """
    w, naxis, pscale, orient = _default_grid(exposures)
    if any(v is not None for v in (scale, rot, shape, center)):
        naxis = _user_grid(w, naxis, pscale, orient, scale, rot, shape, center)
    if naxis[0] * naxis[1] > MAX_OUTPUT_PIXELS:
        why = ("final_outnx/final_outny ask for more than the largest grid accepted, "
               f"{MAX_OUTPUT_PIXELS:.0e} pixels" if shape is not None else
               "the inputs do not overlap (or final_scale is far too small)")  # fmt: skip
        raise DitherlabValueError(
            f"the output grid would be {naxis[0]} x {naxis[1]} pixels: {why}"
        )
    w.pixel_shape = naxis
    return w, (int(naxis[1]), int(naxis[0]))


def _reference_grid(ref: Any) -> tuple[Any, tuple[int, int]]:
    """A grid from ``final_refimage``: a FITS file name or a WCS with its size."""
    if isinstance(ref, str):
        from astropy.io import fits
        from astropy.wcs import WCS

        try:
            with fits.open(ref) as hdul:
                for hdu in hdul:
                    h = hdu.header
                    if h.get("NAXIS", 0) == 2 and "CTYPE1" in h:
                        w = WCS(h).celestial
                        shape = (int(h["NAXIS2"]), int(h["NAXIS1"]))
                        w.pixel_shape = (shape[1], shape[0])
                        return w, shape
        except OSError as exc:
            raise FileFormatError(
                f"final_refimage={ref!r} is not a readable FITS file: {exc}"
            ) from None
        raise FileFormatError(f"final_refimage={ref!r} has no 2-D image with a celestial WCS")
    if getattr(ref, "pixel_shape", None) is None:
        raise DitherlabValueError(
            "final_refimage WCS has no pixel_shape: set wcs.pixel_shape = (nx, ny)"
        )
    nx, ny = ref.pixel_shape
    return ref, (int(ny), int(nx))


def _check_overlap(exposures: list[Any], wcs: Any, shape: tuple[int, int]) -> None:
    """Every exposure must reach the grid and overlap another exposure."""
    boxes = []
    for e in exposures:
        xs, ys = [], []
        for ch in e.chips:
            ex, ey = _edges(ch.shape, 5)
            ox, oy = wcs.world_to_pixel_values(*ch.wcs.pixel_to_world_values(ex, ey))
            xs.append(ox)
            ys.append(oy)
        xs, ys = np.concatenate(xs), np.concatenate(ys)
        box = (xs.min(), xs.max(), ys.min(), ys.max())
        if box[1] < -0.5 or box[0] > shape[1] - 0.5 or box[3] < -0.5 or box[2] > shape[0] - 0.5:
            raise DitherlabValueError(f"input {e.name!r} does not overlap the output grid")
        boxes.append(box)
    n = len(boxes)
    if n < 2:
        return
    linked = {0}
    frontier = [0]
    while frontier:
        a = boxes[frontier.pop()]
        for k in range(n):
            b = boxes[k]
            if k not in linked and a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                linked.add(k)
                frontier.append(k)
    for k in range(n):
        if k not in linked:
            raise DitherlabValueError(
                f"input {exposures[k].name!r} does not overlap {exposures[0].name!r} or any "
                "input overlapping it: its WCS points elsewhere"
            )


def _pixmaps(exposures, wcs, scale_arcsec, cfg):
    """Every chip's float32 pixmap onto ``wcs`` (chips on ``num_cores`` worker processes)."""
    from ditherlab.drizzle.pipeline.workers import map_items, worker_split

    chips = [(i, j) for i, e in enumerate(exposures) for j in range(len(e.chips))]
    size = max(c.shape[0] * c.shape[1] for e in exposures for c in e.chips)
    outer, _ = worker_split(cfg, len(chips), size)
    maps: list[np.ndarray] = []

    def one(item):
        ch = exposures[item[0]].chips[item[1]]
        return (pixmap_from_wcs(ch.wcs, wcs, ch.shape).astype(np.float32),)

    def take(res):
        p = np.array(res[0], copy=True)
        p.setflags(write=False)
        maps.append(p)

    map_items(one, chips, take, outer, 8 * size + 64)
    it = iter(maps)
    return (tuple(tuple(next(it) for _ in e.chips) for e in exposures),
            tuple(tuple(scale_arcsec / ch.idcscale for ch in e.chips) for e in exposures))


def _grid_scale(wcs: Any) -> float:
    """Arcsec per pixel of a celestial WCS (by area, at its reference pixel)."""
    return float(np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600.0)


def build_geometry(inputs: Any, config: Any = None, **overrides: Any) -> PipelineGeometry:
    """Output grids and pixmaps for ``inputs`` under ``config`` (see module docstring).

    Parameters
    ----------
    inputs : list of Exposure, paths or InputExposure
        As for :func:`~ditherlab.drizzle.pipeline.run_pipeline`.
    config : PipelineConfig, optional
        Uses ``driz_sep_scale``, ``driz_sep_rot``, ``final_scale``, ``final_rot``,
        ``final_outnx/outny``, ``final_ra/dec`` and ``final_refimage``.
    **overrides
        Parameters changed from ``config``.

    Raises
    ------
    DitherlabValueError
        Inputs that do not overlap each other or the reference grid.
    """
    from ditherlab.drizzle.pipeline.config import PipelineConfig
    from ditherlab.drizzle.pipeline.inputs import load_inputs

    cfg = config if config is not None else PipelineConfig()
    if overrides:
        cfg = cfg.replace(**overrides)
    exps = load_inputs(inputs)
    sep_wcs, sep_shape = output_wcs(exps, cfg.driz_sep_scale, cfg.driz_sep_rot)
    _check_overlap(exps, sep_wcs, sep_shape)
    if cfg.final_refimage:
        fin_wcs, fin_shape = _reference_grid(cfg.final_refimage)
        _check_overlap(exps, fin_wcs, fin_shape)
    else:
        shape = None if cfg.final_outnx is None else (cfg.final_outny, cfg.final_outnx)
        center = None if cfg.final_ra is None else (cfg.final_ra, cfg.final_dec)
        fin_wcs, fin_shape = output_wcs(
            exps, cfg.final_scale, cfg.final_rot, shape=shape, center=center
        )
    sep_maps, sep_ratio = _pixmaps(exps, sep_wcs, _grid_scale(sep_wcs), cfg)
    same = (
        not cfg.final_refimage
        and cfg.final_outnx is None
        and cfg.final_ra is None
        and cfg.final_scale == cfg.driz_sep_scale
        and cfg.final_rot == cfg.driz_sep_rot
    )
    if same:
        fin_wcs, fin_shape = sep_wcs, sep_shape
        fin_maps, fin_ratio = sep_maps, sep_ratio
    else:
        fin_maps, fin_ratio = _pixmaps(exps, fin_wcs, _grid_scale(fin_wcs), cfg)
    return PipelineGeometry(
        sep_wcs=sep_wcs,
        sep_shape=sep_shape,
        final_wcs=fin_wcs,
        final_shape=fin_shape,
        sep_pixmaps=sep_maps,
        final_pixmaps=fin_maps,
        sep_ratio=sep_ratio,
        final_ratio=fin_ratio,
        chip_shapes=tuple(tuple(c.shape for c in e.chips) for e in exps),
    )
