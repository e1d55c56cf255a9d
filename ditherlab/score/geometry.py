r"""Geometry scores of POS TARG patterns over a field: :func:`phase_coverage`.

A POS TARG pattern is a set of telescope moves.  Geometric distortion turns the same
move into a different pixel step at each place on a chip (the ACS/WFC scale varies by
about ±5 % over the field, so "a one pixel dither near the center will be 0.95 or 1.05
pixels near the corners": ACS Instrument Handbook §7.4), and a parallel camera sees the
same move through its own rotation and distortion.  :func:`phase_coverage` evaluates the
phase scores of :mod:`ditherlab.score.phase` (Lauer's η and the sampling efficiency, the
covering radius, the per-axis phase gaps, the hot-pixel clearance) at a grid of positions
over the prime aperture and any parallels, for one pattern or a batch of them at once.

The pixel step of POS TARG ``P_k`` at flt pixel ``x`` of a chip is
``x_k - x`` with ``I(x_k) = I(x) + M P_k``, where ``I`` is the chip's SIAF Sci2Idl
polynomial and ``M`` turns a move in the prime's ideal frame into the chip's ideal frame
through V2/V3 (``M = 1`` on the prime's own chip; see :func:`ditherlab.planner.parallel_offsets`).

References
----------
ACS Instrument Handbook §7.4, "Patterns and Dithering" (scale variation over the field).
Lauer, T. R. 1999, PASP 111, 227.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ditherlab._validation import as_array, as_choice, as_int
from ditherlab.errors import DitherlabValueError
from ditherlab.score.phase import (
    ETA_CAP,
    _oversample,
    clearance_rows,
    covering_radius_kernel,
    efficiency_rows,
    eta_from_efficiency,
    gap_rows,
)

__all__ = ["METRICS", "PhaseCoverage", "phase_coverage"]

#: The per-position maps of a :class:`PhaseCoverage`, and which way is worse for each.
METRICS: dict[str, str] = {
    "eta": "max",
    "efficiency": "min",
    "covering_radius": "max",
    "gap_x": "max",
    "gap_y": "max",
    "clearance": "min",
}
_FIELDS = ("camera", "chip")


# --------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------
def _summary(metric: str, how: str):
    def get(self: PhaseCoverage):
        m = getattr(self, metric)
        axes = (-2, -1)
        if how == "mean":
            out = m.mean(axis=axes)
        elif how == "median":
            out = np.median(m, axis=axes)
        else:
            out = m.max(axis=axes) if METRICS[metric] == "max" else m.min(axis=axes)
        return out if self.batched else float(out)

    worst = "largest" if METRICS[metric] == "max" else "smallest"
    what = {"mean": "Mean", "median": "Median", "worst": f"Worst ({worst})"}[how]
    get.__doc__ = (
        f"{what} of :attr:`{metric}` over the field positions (float; (P,) for a batch)."
    )
    return property(get)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PhaseCoverage:
    """Phase scores of one or more POS TARG patterns at a grid of positions over a field.

    Made by :func:`phase_coverage`; all arrays are read-only.  Maps have shape
    ``(gy, gx)`` for one pattern and ``(P, gy, gx)`` for a batch of P patterns; rows run
    up the field (for a two-chip camera, the rows of the lower chip first).

    Attributes
    ----------
    aperture : Aperture
        The aperture scored (the prime, or a parallel).
    prime : Aperture
        The aperture whose ideal frame the POS TARGs are in.
    chips : tuple of Aperture
        The chip apertures the positions lie on, in row order.
    pattern_names : tuple of str
        One name per pattern (``"pattern 0"``, ... for arrays).
    postargs : tuple of ndarray
        The POS TARGs (arcsec, prime ideal frame), one ``(N, 2)`` array per pattern.
    n_exposures : ndarray of int, shape (P,)
        N of each pattern.
    oversampling : (int, int)
        The ``(n_x, n_y)`` grid η and the efficiency refer to.
    x, y : ndarray, shape (gy, gx)
        0-based flt pixel of each position on its chip.
    chip : ndarray of int, shape (gy, gx)
        Index into :attr:`chips` of each position.
    eta : ndarray
        Lauer's η, capped at :data:`~ditherlab.score.phase.ETA_CAP` = 10.
    efficiency : ndarray
        Sampling efficiency 1/η² in [0, 1] (0: the grid cannot be rebuilt there).
    covering_radius : ndarray
        Covering radius of the phases (pixels).
    gap_x, gap_y : ndarray
        Largest phase gap along x, along y (pixels).
    clearance : ndarray
        Hot-pixel clearance (pixels): smallest Chebyshev separation of two exposures.
    batched : bool
        Whether a batch was scored (maps carry the leading P axis, summaries are arrays).
    parallels : tuple of PhaseCoverage
        The same patterns scored on each parallel aperture.

    Each map has field summaries ``<map>_mean``, ``<map>_median`` and ``<map>_worst``
    (worst = largest for η, covering radius and gaps; smallest for the efficiency and the
    clearance), e.g. :attr:`eta_mean`, :attr:`covering_radius_worst`.
    """

    aperture: Any
    prime: Any
    chips: tuple[Any, ...]
    pattern_names: tuple[str, ...]
    postargs: tuple[np.ndarray, ...]
    n_exposures: np.ndarray
    oversampling: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    chip: np.ndarray
    eta: np.ndarray
    efficiency: np.ndarray
    covering_radius: np.ndarray
    gap_x: np.ndarray
    gap_y: np.ndarray
    clearance: np.ndarray
    batched: bool
    parallels: tuple[PhaseCoverage, ...] = ()

    def __post_init__(self) -> None:
        # phase_coverage hands over arrays it made itself: freeze them without a copy
        for f in ("n_exposures", "x", "y", "chip", *METRICS):
            a = np.asarray(getattr(self, f))
            if a.flags.writeable:
                a.setflags(write=False)
            object.__setattr__(self, f, a)

    eta_mean = _summary("eta", "mean")
    eta_median = _summary("eta", "median")
    eta_worst = _summary("eta", "worst")
    efficiency_mean = _summary("efficiency", "mean")
    efficiency_median = _summary("efficiency", "median")
    efficiency_worst = _summary("efficiency", "worst")
    covering_radius_mean = _summary("covering_radius", "mean")
    covering_radius_median = _summary("covering_radius", "median")
    covering_radius_worst = _summary("covering_radius", "worst")
    gap_x_mean = _summary("gap_x", "mean")
    gap_x_median = _summary("gap_x", "median")
    gap_x_worst = _summary("gap_x", "worst")
    gap_y_mean = _summary("gap_y", "mean")
    gap_y_median = _summary("gap_y", "median")
    gap_y_worst = _summary("gap_y", "worst")
    clearance_mean = _summary("clearance", "mean")
    clearance_median = _summary("clearance", "median")
    clearance_worst = _summary("clearance", "worst")

    @property
    def n_patterns(self) -> int:
        """Number of patterns scored (1 unless a batch)."""
        return len(self.pattern_names)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(gy, gx)``: rows and columns of the position grid."""
        return tuple(int(n) for n in self.x.shape)  # type: ignore[return-value]

    def map(self, metric: str, index: int = 0) -> np.ndarray:
        """One pattern's ``(gy, gx)`` map of ``metric`` (one of :data:`METRICS`)."""
        metric = as_choice("metric", metric, METRICS)
        m = getattr(self, metric)
        return m[self._index(index)] if self.batched else m

    def _index(self, index: int) -> int:
        i = as_int("index", index)
        if not -self.n_patterns <= i < self.n_patterns:
            raise DitherlabValueError(
                f"index={index!r} is out of range for {self.n_patterns} pattern(s)"
            )
        return i % self.n_patterns

    def pixel_steps(self, index: int = 0) -> np.ndarray:
        """Exact pixel steps of pattern ``index`` at every position, shape (gy, gx, N, 2).

        Computed with the apertures' Newton inverse of the SIAF polynomial: step ``k`` is
        where exposure ``k`` puts the sky that exposure-free pointing puts at ``(x, y)``,
        minus ``(x, y)``.
        """
        post = self.postargs[self._index(index)]
        return _exact_steps(self.prime, self.chips, self.chip, self.x, self.y, post[None])[0]

    def to_table(self, per_position: bool = False):
        """The scores as an :class:`astropy.table.Table`, prime first, then each parallel.

        Parameters
        ----------
        per_position : bool, optional
            ``False`` (default): one row per pattern and aperture with ``pattern``,
            ``aperture``, ``role`` (prime/parallel), ``n_exposures`` and the
            ``<map>_mean/median/worst`` summaries.  ``True``: one row per pattern,
            aperture and position with ``chip`` (SIAF name), ``x``, ``y`` and each map's
            value there.

        Returns
        -------
        astropy.table.Table
            ``meta`` records the prime, the oversampling and :data:`ETA_CAP`.
        """
        from astropy.table import vstack

        tables = [r._own_table(per_position, role) for r, role in self._roles()]
        t = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
        t.meta.update(
            prime=self.prime.name,
            oversampling=list(self.oversampling),
            eta_cap=ETA_CAP,
        )
        return t

    def _roles(self):
        yield self, "prime" if self.aperture is self.prime else "parallel"
        for p in self.parallels:
            yield p, "parallel"

    def _own_table(self, per_position: bool, role: str):
        from astropy.table import Table

        p = self.n_patterns
        if not per_position:
            cols: dict[str, Any] = {
                "pattern": list(self.pattern_names),
                "aperture": [self.aperture.name] * p,
                "role": [role] * p,
                "n_exposures": self.n_exposures,
            }
            for m in METRICS:
                for how in ("mean", "median", "worst"):
                    cols[f"{m}_{how}"] = np.atleast_1d(getattr(self, f"{m}_{how}"))
            return Table(cols)
        g = self.x.size
        names = np.array([c.name for c in self.chips])[self.chip.ravel()]
        cols = {
            "pattern": np.repeat(self.pattern_names, g),
            "aperture": [self.aperture.name] * (p * g),
            "role": [role] * (p * g),
            "chip": np.tile(names, p),
            "x": np.tile(self.x.ravel(), p),
            "y": np.tile(self.y.ravel(), p),
        }
        for m in METRICS:
            cols[m] = getattr(self, m).reshape(p * g)
        return Table(cols)

    def plot(self, metric: str = "eta", index: int = 0, fig: Any = None):
        """Maps of ``metric`` over the prime and each parallel for pattern ``index``.

        See :func:`ditherlab.score.plotting.plot_phase_coverage`.
        """
        from ditherlab.score.plotting import plot_phase_coverage

        return plot_phase_coverage(self, metric=metric, index=index, fig=fig)

    def __repr__(self) -> str:
        what = f"{self.n_patterns} patterns" if self.batched else repr(self.pattern_names[0])
        par = ", ".join(p.aperture.name for p in self.parallels)
        gy, gx = self.grid_shape
        eta = np.atleast_1d(self.eta_worst)
        return (
            f"<PhaseCoverage {what} on {self.aperture.name} ({gx}x{gy} positions, "
            f"{self.oversampling[0]}x{self.oversampling[1]} oversampling"
            f"{', parallels ' + par if par else ''}): worst eta {eta.max():.3g}>"
        )


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------
def _patterns(pattern: Any, prime: Any) -> tuple[tuple[np.ndarray, ...], tuple[str, ...], bool]:
    """POS TARG arrays (arcsec), names, and whether a batch was given."""
    from ditherlab.planner.patterns import Pattern

    def one(p: Pattern) -> np.ndarray:
        post = p if p.frame == "postarg" else prime.postarg_offsets(p)
        return np.asarray(post.offsets, dtype=float)

    if isinstance(pattern, Pattern):
        return (one(pattern),), (pattern.name or "pattern",), False
    if isinstance(pattern, (list, tuple)) and pattern and all(
        isinstance(p, Pattern) for p in pattern
    ):
        names = tuple(p.name or f"pattern {i}" for i, p in enumerate(pattern))
        return tuple(one(p) for p in pattern), names, True
    from astropy import units as u

    arr = as_array("pattern", pattern, unit=u.arcsec)
    if arr.ndim == 2 and arr.shape[1] == 2 and arr.shape[0] >= 1:
        return (arr,), ("pattern",), False
    if arr.ndim == 3 and arr.shape[2] == 2 and arr.shape[0] >= 1 and arr.shape[1] >= 1:
        return tuple(arr), tuple(f"pattern {i}" for i in range(arr.shape[0])), True
    raise DitherlabValueError(
        f"pattern must be a Pattern, a list of Patterns, or POS TARGs (arcsec) of shape (N, 2) "
        f"or (P, N, 2); got an array of shape {arr.shape}"
    )


def _grid(grid: Any) -> tuple[int, int]:
    if np.isscalar(grid):
        grid = (grid, grid)
    if not isinstance(grid, (tuple, list)) or len(grid) != 2:
        raise DitherlabValueError(f"grid={grid!r} must be an int or a pair (gx, gy)")
    gx = as_int("grid[0]", grid[0], minimum=1, maximum=1024)
    gy = as_int("grid[1]", grid[1], minimum=1, maximum=1024)
    return gx, gy


def _field_chips(aperture: Any, field: str | None) -> tuple[Any, ...]:
    """The chips scored, bottom to top in the aperture's ideal Y (= flt y direction)."""
    multi = len(aperture.chip_names) > 1 and aperture.gap > 0
    if field is None:
        field = "camera" if multi and aperture.name not in aperture.chip_names else "chip"
    field = as_choice("field", field, _FIELDS)
    if field == "chip" or not multi:
        return (aperture.chip_aperture,) if multi else (aperture,)
    chips = aperture.chips
    ys = []
    for c in chips:
        ny, nx = c.shape
        v2, v3 = c.sci_to_tel((nx - 1) / 2, (ny - 1) / 2)
        ys.append(float(aperture.tel_to_idl(v2, v3)[1]))
    return tuple(chips[i] for i in np.argsort(ys))


def _positions(chips: tuple[Any, ...], gx: int, gy: int):
    """Cell-centred grid: ``gx`` columns, ``gy`` rows shared out evenly between chips."""
    rows = max(1, -(-gy // len(chips)))
    xs, ys, idx = [], [], []
    for i, c in enumerate(chips):
        ny, nx = c.shape
        px = (np.arange(gx) + 0.5) * nx / gx - 0.5
        py = (np.arange(rows) + 0.5) * ny / rows - 0.5
        gxx, gyy = np.meshgrid(px, py)
        xs.append(gxx)
        ys.append(gyy)
        idx.append(np.full(gxx.shape, i))
    return np.vstack(xs), np.vstack(ys), np.vstack(idx)


def _move_matrix(prime: Any, chip: Any) -> np.ndarray:
    """2 × 2 matrix taking a move in the prime's ideal frame to the chip's ideal frame."""

    def to_tel(ap: Any) -> np.ndarray:
        c, s = ap._rot()
        p = ap.vidl_parity
        return np.array([[p * c, s], [-p * s, c]])

    return np.linalg.solve(to_tel(chip), to_tel(prime))


def _exact_steps(prime, chips, chip_idx, x, y, post: np.ndarray) -> np.ndarray:
    """Pixel steps (P, gy, gx, N, 2) of POS TARGs ``post`` (P, N, 2) by Newton inversion."""
    p, n, _ = post.shape
    out = np.empty((p, x.size, n, 2))
    for i, c in enumerate(chips):
        sel = np.flatnonzero(chip_idx.ravel() == i)
        xs, ys = x.ravel()[sel], y.ravel()[sel]
        mv = post @ _move_matrix(prime, c).T  # (P, N, 2) in the chip's ideal frame
        X0, Y0 = c._sci_to_idl(xs, ys)
        X = X0[None, :, None] + mv[:, None, :, 0]
        Y = Y0[None, :, None] + mv[:, None, :, 1]
        xk, yk = c._idl_to_sci(X, Y)
        out[:, sel] = np.stack([xk - xs[None, :, None], yk - ys[None, :, None]], axis=-1)
    return out.reshape(p, *x.shape, n, 2)


# --------------------------------------------------------------------------------------
# pixel steps: local quadratic model of the inverse distortion
# --------------------------------------------------------------------------------------
#: POS TARGs up to this size (arcsec, per axis) use the local quadratic model of the
#: inverse distortion: good to 1e-3 px at 3" on ACS/WFC, 3e-5 px at 1" (tested);
#: larger ones are inverted exactly by Newton iteration.
_TAYLOR_MAX = 3.0
#: Phase sets scored per chunk (keeps the kernels' work arrays in cache).
_CHUNK = 4096


def _local_model(chip: Any, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Coefficients (5, 2 G) of the pixel step as a quadratic in the ideal-frame move q.

    With J the Jacobian and H the second derivatives of Sci2Idl at each position,
    ``I(x + u) = I(x) + J u + H(u, u)/2 = I(x) + q`` gives, to second order,
    ``u = J⁻¹q - J⁻¹ H(J⁻¹q, J⁻¹q)/2``: a quadratic form in ``(qx, qy)``.  Column block
    0 holds u_x, block 1 u_y; rows multiply ``qx, qy, qx², qx qy, qy²``.
    """
    from ditherlab.planner.apertures import _deriv, _polyval

    dx = xs - chip.reference_pixel[0]
    dy = ys - chip.reference_pixel[1]
    (ax, ay), (bx, by) = chip._dpx, chip._dpy
    j00, j01 = _polyval(ax, dx, dy), _polyval(ay, dx, dy)
    j10, j11 = _polyval(bx, dx, dy), _polyval(by, dx, dy)
    det = j00 * j11 - j01 * j10
    a, b, c, d = j11 / det, -j01 / det, -j10 / det, j00 / det  # J⁻¹
    # u1 = J⁻¹q: its products as coefficients of (qx², qx qy, qy²)
    uxx = np.stack([a * a, 2 * a * b, b * b])
    uxy = np.stack([a * c, a * d + b * c, b * d])
    uyy = np.stack([c * c, 2 * c * d, d * d])

    def half_h(dfdx: np.ndarray, dfdy: np.ndarray) -> np.ndarray:
        # ½ H_f(u1, u1) with H from the first-derivative coefficients of f
        fxx = _polyval(_deriv(dfdx, 0), dx, dy)
        fxy = _polyval(_deriv(dfdx, 1), dx, dy)
        fyy = _polyval(_deriv(dfdy, 1), dx, dy)
        return 0.5 * fxx * uxx + fxy * uxy + 0.5 * fyy * uyy

    hx, hy = half_h(ax, ay), half_h(bx, by)
    coef_x = np.vstack([a, b, -(a * hx + b * hy)])
    coef_y = np.vstack([c, d, -(c * hx + d * hy)])
    return np.hstack([coef_x, coef_y])


def _step_rows(prime, chips, chip_idx, x, y, post: np.ndarray):
    """Pixel steps of POS TARGs ``post`` (P, N, 2) at every position, in chunks.

    Yields ``(p0, p1, dx, dy)``: rows of shape (N, (p1 - p0) G) for patterns p0..p1-1,
    positions in the flattened grid order.
    """
    p, n, _ = post.shape
    g = x.size
    exact = float(np.abs(post).max(initial=0.0)) > _TAYLOR_MAX
    per = max(1, _CHUNK // g)
    # positions are stacked chip by chip: each chip is a contiguous slice of the grid
    flat = chip_idx.ravel()
    order = [slice(int(np.argmax(flat == i)), int(np.argmax(flat == i)) + int(np.sum(flat == i)))
             for i in range(len(chips))]
    models = [] if exact else [
        _local_model(c, x.ravel()[sel], y.ravel()[sel]) for c, sel in zip(chips, order, strict=True)
    ]
    moves = [post @ _move_matrix(prime, c).T for c in chips]
    for p0 in range(0, p, per):
        p1 = min(p, p0 + per)
        dx = np.empty((n, p1 - p0, g))
        dy = np.empty((n, p1 - p0, g))
        if exact:
            st = _exact_steps(prime, chips, chip_idx, x, y, post[p0:p1])
            st = st.reshape(p1 - p0, g, n, 2)
            dx[:] = st[..., 0].transpose(2, 0, 1)
            dy[:] = st[..., 1].transpose(2, 0, 1)
        else:
            for c, sel in enumerate(order):
                q = moves[c][p0:p1].transpose(1, 0, 2).reshape(-1, 2)  # (N Pc, 2)
                qx, qy = q[:, 0], q[:, 1]
                feats = np.column_stack([qx, qy, qx * qx, qx * qy, qy * qy])
                u = feats @ models[c]  # (N Pc, 2 Gc), one matrix product
                gc = u.shape[1] // 2
                dx[:, :, sel] = u[:, :gc].reshape(n, p1 - p0, gc)
                dy[:, :, sel] = u[:, gc:].reshape(n, p1 - p0, gc)
        yield p0, p1, dx.reshape(n, -1), dy.reshape(n, -1)


# --------------------------------------------------------------------------------------
# the scores
# --------------------------------------------------------------------------------------
def _score_rows(dx: np.ndarray, dy: np.ndarray, over, metrics) -> dict[str, np.ndarray]:
    """The requested maps (flat, (B,)) for steps given as rows (N, B)."""
    out: dict[str, np.ndarray] = {}
    if "efficiency" in metrics or "eta" in metrics:
        eff = efficiency_rows(dx, dy, *over)
        out["efficiency"] = eff
        out["eta"] = eta_from_efficiency(eff)
    if "covering_radius" in metrics:
        out["covering_radius"] = covering_radius_kernel(np.stack([dx.T, dy.T], axis=-1))
    if "gap_x" in metrics:
        out["gap_x"] = gap_rows(dx)
    if "gap_y" in metrics:
        out["gap_y"] = gap_rows(dy)
    if "clearance" in metrics:
        out["clearance"] = clearance_rows(dx, dy)
    return out


def _coverage_on(aperture, prime, chips, posts, names, batched, over, grid, metrics):
    x, y, idx = _positions(chips, *grid)
    g = x.size
    maps = {m: np.full((len(posts), g), np.nan) for m in METRICS}
    by_n: dict[int, list[int]] = {}
    for i, p in enumerate(posts):
        by_n.setdefault(p.shape[0], []).append(i)
    for members in by_n.values():
        group = np.stack([posts[i] for i in members])
        rows = np.asarray(members)
        contiguous = bool(np.all(np.diff(rows) == 1))
        for p0, p1, dx, dy in _step_rows(prime, chips, idx, x, y, group):
            where = slice(rows[0] + p0, rows[0] + p1) if contiguous else rows[p0:p1]
            for m, v in _score_rows(dx, dy, over, metrics).items():
                maps[m][where] = v.reshape(p1 - p0, g)
    maps = {m: v.reshape(len(posts), *x.shape) for m, v in maps.items()}
    if not batched:
        maps = {m: v[0] for m, v in maps.items()}
    return PhaseCoverage(
        aperture=aperture,
        prime=prime,
        chips=chips,
        pattern_names=names,
        postargs=posts,
        n_exposures=np.array([p.shape[0] for p in posts]),
        oversampling=over,
        x=x,
        y=y,
        chip=idx,
        batched=batched,
        **maps,
    )


def _metrics(metrics: Any) -> frozenset[str]:
    if metrics is None:
        return frozenset(METRICS)
    if isinstance(metrics, str):
        metrics = (metrics,)
    return frozenset(as_choice("metrics", m, METRICS) for m in metrics)


def phase_coverage(
    pattern: Any,
    aperture: Any,
    *,
    grid: Any = 16,
    oversampling: Any = (2, 2),
    parallel: Any = None,
    field: str | None = None,
    metrics: Any = None,
) -> PhaseCoverage:
    """Sub-pixel phase scores of POS TARG pattern(s) over the field of an aperture.

    At each of ``gx × gy`` positions the POS TARGs become pixel steps through the SIAF
    distortion of the chip there, and those steps are scored: Lauer's η (capped at 10)
    and the sampling efficiency 1/η² for an ``oversampling`` grid, the covering radius,
    the per-axis phase gaps and the hot-pixel clearance (see :mod:`ditherlab.score.phase`).

    Parameters
    ----------
    pattern : Pattern, list of Pattern, or array_like
        One pattern (a :class:`~ditherlab.planner.Pattern`, or POS TARGs of shape (N, 2)
        in arcsec), or a batch: a list of Patterns or an array of shape (P, N, 2).  A
        pixel-frame Pattern is first converted to the POS TARGs that give those steps at
        the aperture's reference pixel.
    aperture : Aperture or str
        The prime aperture; the POS TARGs are in its ideal frame.
    grid : int or (gx, gy), optional
        Positions across the field: ``gx`` columns and ``gy`` rows at the centres of
        equal cells (default 16 × 16).  On a two-chip camera the rows are shared out
        evenly between the chips.
    oversampling : int or (n_x, n_y), optional
        The finer grid η and the efficiency refer to (default 2 × 2).
    parallel : Aperture, str, or a sequence of them, optional
        Parallel aperture(s): the same telescope moves are scored there too, through
        V2/V3 and that camera's own distortion; see :attr:`PhaseCoverage.parallels`.
    field : {"camera", "chip"}, optional
        ``"camera"`` scores every chip of a two-chip camera (ACS/WFC, WFC3/UVIS);
        ``"chip"`` only the aperture's own chip.  Default: the camera for the full-camera
        apertures (``"acs-wfc"`` = JWFC, ``"wfc3-uvis"`` = IUVIS, and APT's WFC1/UVIS1
        optimum apertures), the chip for the chip apertures (``"acs-wfc1"`` = JWFC1FIX, ...).
    metrics : str or sequence of str, optional
        Only these maps (names in :data:`METRICS`); the others are NaN.  The exact
        covering radius costs more than all the other maps together; an optimiser that
        does not need it can leave it out.  Default: all.

    Returns
    -------
    PhaseCoverage
        Maps, field summaries (``eta_mean``, ``eta_median``, ``eta_worst``, ...),
        ``to_table()`` and ``plot()``.

    Raises
    ------
    DitherlabValueError, DitherlabTypeError
        For a malformed pattern, grid, oversampling or field; ApertureNotFoundError for
        an unknown aperture name.

    Examples
    --------
    >>> from ditherlab.planner import get_aperture, subpixel
    >>> ir = get_aperture("wfc3-ir")
    >>> box = ir.postarg_offsets(subpixel(4, step=(2, 2)))
    >>> res = phase_coverage(box, ir, grid=4)
    >>> res.eta.shape, round(res.eta_mean, 2) >= 1.0
    ((4, 4), True)
    """
    from ditherlab.planner.apertures import get_aperture

    prime = get_aperture(aperture)
    gx, gy = _grid(grid)
    over = _oversample(oversampling)
    wanted = _metrics(metrics)
    posts, names, batched = _patterns(pattern, prime)
    if parallel is None:
        pars: tuple[Any, ...] = ()
    elif isinstance(parallel, (list, tuple)):
        pars = tuple(get_aperture(p) for p in parallel)
    else:
        pars = (get_aperture(parallel),)
    results = [
        _coverage_on(ap, prime, _field_chips(ap, field), posts, names, batched, over, (gx, gy),
                     wanted)
        for ap in (prime, *pars)
    ]
    return dataclasses.replace(results[0], parallels=tuple(results[1:]))
