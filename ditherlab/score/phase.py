r"""How well a set of dithered exposures samples the sub-pixel phase plane.

These are the numeric primitives of the geometry scores: pure array kernels, batched over
any number of phase sets, and small scalar wrappers for one set of offsets.  The field
maps built from them live in :mod:`ditherlab.score.geometry`.

**Noise amplification η** (Lauer 1999).  To rebuild an image ``n_x × n_y`` times finer than
the detector pixels from N dithered frames, the frames' sub-pixel offsets δ_k must let the
``M = n_x n_y`` Fourier "satellites" be separated.  With the phase matrix

.. math::  A_{k,(j,l)} = \exp[-2\pi i\,(j\,\delta x_k + l\,\delta y_k)],
           \quad 0 \le j < n_x,\; 0 \le l < n_y,

the reconstruction is possible iff rank A = M, and the noise of the least-squares
reconstruction relative to an ideal interlaced set of the same N frames is

.. math::  \eta^2 = \frac{N}{M}\,\mathrm{tr}\,[(A^H A)^{-1}].

η = 1 exactly when :math:`A^H A = N I` (e.g. the 4-point half-pixel box for 2 × 2).
Only phase *differences* enter, so η does not depend on where the pattern starts, on
whole-pixel steps, or on the order of the exposures.

*Readable near degeneracy.*  η grows without bound as the phases approach a set that
cannot rebuild the grid, and is infinite when N < M; the raw number (∞ at one place,
3,948 a few hundred pixels away) then says only "cannot".  ditherlab therefore reports

- the **sampling efficiency** ``e = 1/η² = M / (N tr[(AᴴA)⁻¹])``, in [0, 1]: the fraction
  of the frames' combined S/N² that survives the reconstruction (1 = ideal interlacing,
  0 = the grid cannot be rebuilt).  It is continuous, bounded, and can be averaged over a
  field or compared between patterns;
- **η capped** at :data:`ETA_CAP` = 10 (e = 1 %): any set whose noise would be amplified
  ten-fold or more counts as "cannot rebuild" and reads 10.

**Covering radius** ρ: the largest distance (pixels) from any point of the unit pixel cell
to the nearest sampled phase, on the torus (so, the radius of the largest sub-pixel spot no
exposure centres on).  ρ = √2/2 for a single frame, √2/4 ≈ 0.354 for the 4-point box,
√2/6 ≈ 0.236 for the 3 × 3 grid.  It is defined for any N and degrades smoothly.

**Per-axis phase gap**: the largest gap (pixels) between the x phases, and between the y
phases, on the unit circle: 0.5 for two phases half a pixel apart, 1 for a single phase.
The ACS box is designed for "optimal half-pixel sampling in both x and y" (ACS dither
pages): gap 0.5 on both axes.

**Hot-pixel clearance**: the smallest separation, in pixels, between the places any two
exposures put the same sky, measured as the Chebyshev distance ``max(|Δx|, |Δy|)`` of
their pixel offsets.  A hot pixel's footprint in one exposure overlaps its footprint in
another when the clearance is below 1; a clearance of n ≥ 1 means the same sky lands on
detectors pixels at least n whole pixels apart in every pair (0 for a single exposure).

References
----------
Lauer, T. R. 1999, PASP 111, 227, "Combining Undersampled Dithered Images".
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (Drizzle).
DrizzlePac Handbook §2.2, "Selecting the Right Dither Strategy" (the dither families
these metrics score; integer steps against hot pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab._validation import as_array, as_int
from ditherlab.errors import DitherlabValueError

__all__ = [
    "ETA_CAP",
    "covering_radius",
    "hot_pixel_clearance",
    "noise_amplification",
    "phase_gaps",
    "phase_metrics",
    "sampling_efficiency",
]

#: η is reported up to this value (sampling efficiency 1/η² = 1 %); beyond it the
#: requested grid counts as not rebuildable from these phases.
ETA_CAP = 10.0
#: A Cholesky pivot below this fraction of N marks the phase matrix as singular.
_SINGULAR = 1e-12


# --------------------------------------------------------------------------------------
# argument helpers
# --------------------------------------------------------------------------------------
def _offsets(offsets: Any, name: str = "offsets") -> np.ndarray:
    """Pixel offsets (N, 2) of a Pattern (pixel frame) or an array."""
    from ditherlab.planner.patterns import Pattern

    if isinstance(offsets, Pattern):
        if offsets.frame != "pixel":
            raise DitherlabValueError(
                f"{name} is the POS TARG pattern {offsets.name!r}; convert it to pixel steps "
                "with Aperture.pixel_offsets first, or score it with phase_coverage"
            )
        return np.asarray(offsets.offsets, dtype=float)
    arr = as_array(name, offsets, shape=(None, 2))
    if arr.shape[0] == 0:
        raise DitherlabValueError(f"{name} must hold at least one offset, got shape (0, 2)")
    return arr


def _oversample(oversample: Any, name: str = "oversampling") -> tuple[int, int]:
    if np.isscalar(oversample):
        oversample = (oversample, oversample)
    if len(oversample) != 2:
        raise DitherlabValueError(f"{name}={oversample!r} must be an int or a pair (nx, ny)")
    nx = as_int(f"{name}[0]", oversample[0], minimum=1, maximum=8)
    ny = as_int(f"{name}[1]", oversample[1], minimum=1, maximum=8)
    return nx, ny


# --------------------------------------------------------------------------------------
# batched kernels: d has shape (B, N, 2), pixel offsets (or phases); results (B,)
# --------------------------------------------------------------------------------------
def _unit_phasors(t: np.ndarray) -> np.ndarray:
    """``exp(2πi t)`` as complex128, with the cosine and sine taken in single precision.

    Single-precision SIMD trigonometry is ten times faster than double here and leaves
    the scores good to ~1e-6 (the phases are reduced to [-0.5, 0.5) first).
    """
    a = (2.0 * np.pi * (t - np.floor(t + 0.5))).astype(np.float32)
    out = np.empty(t.shape, dtype=np.complex128)
    out.real = np.cos(a)
    out.imag = np.sin(a)
    return out


def _rows(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, N, 2) offsets -> contiguous x and y rows of shape (N, B)."""
    return np.ascontiguousarray(d[:, :, 0].T), np.ascontiguousarray(d[:, :, 1].T)


def efficiency_kernel(d: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Sampling efficiency 1/η² of each of B phase sets (offsets ``d``, (B, N, 2)), (B,)."""
    return efficiency_rows(*_rows(d), nx, ny)


def _efficiency_exact(d: np.ndarray, nx: int, ny: int) -> float:
    """Double-precision efficiency of one set (N, 2): the reference for the scalar API."""
    n = d.shape[0]
    m = nx * ny
    if n < m:
        return 0.0
    j, l = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    a = np.exp(-2j * np.pi * (np.mod(d, 1.0) @ np.column_stack([j.ravel(), l.ravel()]).T))
    gram = a.conj().T @ a
    w = np.linalg.eigvalsh(gram)
    if w[0] <= _SINGULAR * n:
        return 0.0
    return float(min(1.0, m / (n * np.sum(1.0 / w))))


def _efficiency_2x2(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Fast path of :func:`efficiency_rows` for 2 × 2 oversampling, in real arithmetic.

    Scaling row k of A by the unit phase ``exp[πi(δx_k + δy_k)]`` and mixing its columns
    with a unitary matrix (neither changes ``tr (AᴴA)⁻¹``) makes A real, with columns
    ``√2 (cos α, sin α, cos β, sin β)``, ``α = π(δx + δy)``, ``β = π(δy - δx)``.  The
    angles are reduced in double precision; cosines, sines and the 4 × 4 real symmetric
    ``G' = A'ᵀA'`` are formed in single precision, and ``G'`` is inverted in double.
    """
    n, b = dx.shape
    t = np.empty((2, n, b))
    np.add(dx, dy, out=t[0])
    np.subtract(dy, dx, out=t[1])
    t *= 0.5
    t -= np.rint(t)  # α/2π and β/2π in [-0.5, 0.5]
    ang = t.astype(np.float32)
    ang *= np.float32(2.0 * np.pi)
    cols = np.empty((4, n, b), dtype=np.float32)
    np.cos(ang, out=cols[0::2])
    np.sin(ang, out=cols[1::2])
    gram = np.einsum("ikb,jkb->ijb", cols, cols).astype(np.float64)
    gram *= 2.0
    return _inverse_trace_efficiency(lambda r, c: gram[r, c], 4, n, b, real=True)


def efficiency_rows(dx: np.ndarray, dy: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Sampling efficiency 1/η² of B phase sets given as rows ``dx``, ``dy`` of shape (N, B).

    Builds the Hermitian ``M × M`` matrix ``G = AᴴA`` from the phase sums
    ``S(u, v) = Σ_k exp[2πi(u δx_k + v δy_k)]`` (G depends only on index differences),
    then ``tr G⁻¹ = ‖L⁻¹‖²_F`` from its Cholesky factor ``G = L Lᴴ``, vectorised over B
    with the M × M loop in Python.  A pivot below ``1e-12 N`` means rank A < M: 0.
    """
    n, b = dx.shape
    m = nx * ny
    if n < m:
        return np.zeros(b)
    if (nx, ny) == (2, 2):
        return _efficiency_2x2(dx, dy)
    ex = _unit_phasors(dx)  # (N, B)
    ey = _unit_phasors(dy)
    px = [None, ex]
    for _ in range(nx - 2):
        px.append(px[-1] * ex)
    py = [None, ey]
    for _ in range(ny - 2):
        py.append(py[-1] * ey)
    # S(u, v) for u in [0, nx), v in (-ny, ny); S(-u, -v) = conj S(u, v); S(0, 0) = N
    s = {(0, 0): np.full(b, float(n))}
    for u in range(nx):
        for v in range(-(ny - 1), ny):
            if u == 0 and v <= 0:
                continue
            yv = None if v == 0 else (py[v] if v > 0 else np.conj(py[-v]))
            term = px[u] if yv is None else (yv if u == 0 else px[u] * yv)
            s[u, v] = term.sum(axis=0)

    def g(r: int, c: int) -> np.ndarray:
        # G[(j,l),(j',l')] = Σ_k conj(A_kr) A_kc = S(j - j', l - l')
        u = r // ny - c // ny
        v = r % ny - c % ny
        if u > 0 or (u == 0 and v >= 0):
            return s[u, v]
        return np.conj(s[-u, -v])

    return _inverse_trace_efficiency(g, m, n, b)


def _inverse_trace_efficiency(g, m: int, n: int, b: int, real: bool = False) -> np.ndarray:
    """``M / (N tr G⁻¹)`` by a vectorised Cholesky factorisation; 0 where G is singular."""
    if real:
        return _inverse_trace_real(g, m, n, b)
    lo: list[list[Any]] = [[None] * m for _ in range(m)]
    singular = np.zeros(b, dtype=bool)
    for j in range(m):
        acc = np.array(np.real(g(j, j)), dtype=float)
        for k in range(j):
            acc -= lo[j][k].real ** 2 + lo[j][k].imag ** 2
        bad = acc <= _SINGULAR * n
        singular |= bad
        acc[bad] = 1.0
        piv = np.sqrt(acc)
        lo[j][j] = piv
        inv = 1.0 / piv
        for i in range(j + 1, m):
            acc_c = g(i, j)
            for k in range(j):
                acc_c = acc_c - lo[i][k] * np.conj(lo[j][k])
            lo[i][j] = acc_c * inv
    # X = L⁻¹ (lower triangular); tr G⁻¹ = Σ |X_ij|²
    x: list[list[Any]] = [[None] * m for _ in range(m)]
    total = np.zeros(b)
    for i in range(m):
        x[i][i] = 1.0 / lo[i][i]
        total += x[i][i] ** 2
        for j in range(i - 1, -1, -1):
            acc_c = lo[i][j] * x[j][j]
            for k in range(j + 1, i):
                acc_c = acc_c + lo[i][k] * x[k][j]
            x[i][j] = acc_c * (-x[i][i])
            total += x[i][j].real ** 2 + x[i][j].imag ** 2
    eff = m / (n * total)
    eff[singular] = 0.0
    return np.minimum(eff, 1.0)


def _inverse_trace_real(g, m: int, n: int, b: int) -> np.ndarray:
    """Real symmetric version of :func:`_inverse_trace_efficiency`."""
    lo: list[list[Any]] = [[None] * m for _ in range(m)]
    singular = np.zeros(b, dtype=bool)
    for j in range(m):
        acc = g(j, j).copy()
        for k in range(j):
            acc -= lo[j][k] * lo[j][k]
        bad = acc <= _SINGULAR * n
        singular |= bad
        acc[bad] = 1.0
        inv = 1.0 / np.sqrt(acc)
        lo[j][j] = inv  # store the reciprocal of the pivot
        for i in range(j + 1, m):
            acc_i = g(i, j).copy()
            for k in range(j):
                acc_i -= lo[i][k] * lo[j][k]
            acc_i *= inv
            lo[i][j] = acc_i
    total = np.zeros(b)
    x: list[list[Any]] = [[None] * m for _ in range(m)]
    for i in range(m):
        x[i][i] = lo[i][i]
        total += x[i][i] * x[i][i]
        for j in range(i - 1, -1, -1):
            acc_i = lo[i][j] * x[j][j]
            for k in range(j + 1, i):
                acc_i += lo[i][k] * x[k][j]
            acc_i *= -lo[i][i]
            x[i][j] = acc_i
            total += acc_i * acc_i
    eff = m / (n * total)
    eff[singular] = 0.0
    return np.minimum(eff, 1.0)


def eta_from_efficiency(eff: np.ndarray) -> np.ndarray:
    """η = 1/√e, capped at :data:`ETA_CAP` (e ≤ 1 %: cannot rebuild)."""
    eff = np.asarray(eff, dtype=float)
    with np.errstate(divide="ignore"):
        eta = 1.0 / np.sqrt(np.maximum(eff, 0.0))
    return np.minimum(eta, ETA_CAP)


_SHIFTS = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)


def _wrap(v: np.ndarray) -> np.ndarray:
    """Minimum-image difference on the unit torus, in [-0.5, 0.5)."""
    return v - np.floor(v + 0.5)


def covering_radius_kernel(d: np.ndarray) -> np.ndarray:
    """Exact covering radius (pixels) of each of B phase sets on the unit torus, shape (B,).

    The point of the torus farthest from every phase is a vertex of the periodic Voronoi
    diagram, so ρ is the largest distance from a phase to a vertex of its Voronoi cell.
    Each cell is first built from the phase's 8 nearest periodic neighbours
    (:func:`_cells_from_neighbours`); it is exact when the 9th is farther than twice the
    cell's farthest vertex (no farther neighbour's bisector can cut it).  Sets that fail
    that test are redone with 16 neighbours, then with all 9 N - 1.
    """
    b = d.shape[0]
    out = np.empty(b)
    for start in range(0, b, 512):
        part = d[start : start + 512]
        rho, ok = _cells_from_neighbours(part, 8)
        todo = np.flatnonzero(~ok)
        for k in (16, None):
            if todo.size == 0:
                break
            r2, ok2 = _cells_from_neighbours(part[todo], k)
            rho[todo] = r2
            todo = todo[~ok2]
        out[start : start + 512] = rho
    return out


def _cells_from_neighbours(d: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Largest Voronoi-vertex distance using each phase's ``k`` nearest periodic neighbours.

    For phase i, the candidate vertices are the circumcentres of (i, q1, q2) over pairs of
    its k nearest neighbours (minimum images shifted by -1, 0, +1 pixel per axis); those
    with no neighbour nearer than the circumradius are the vertices of the cell the k
    neighbours bound.  Returns ρ and whether every cell was certified complete
    (``k=None``: all neighbours, always complete).
    """
    b, n, _ = d.shape
    ph = np.mod(d, 1.0)
    m = 9 * n
    kk = m - 1 if k is None else min(k, m - 1)
    q1, q2 = np.triu_indices(kk, k=1)
    best = np.zeros(b)
    certified = np.ones(b, dtype=bool)
    for i in range(n):
        rel = _wrap(ph - ph[:, i : i + 1, :])
        nb = (rel[:, :, None, :] + _SHIFTS[None, None]).reshape(b, m, 2)
        dist = nb[..., 0] ** 2 + nb[..., 1] ** 2
        dist[:, 4 + 9 * i] = np.inf  # the phase itself
        if kk < m - 1:
            part = np.argpartition(dist, kk, axis=1)
            beyond = np.take_along_axis(dist, part[:, kk : kk + 1], axis=1)[:, 0]
            sel = np.take_along_axis(nb, part[:, :kk, None], axis=1)
        else:
            beyond = np.full(b, np.inf)
            sel = np.delete(nb, 4 + 9 * i, axis=1)
        a, c = sel[:, q1, :], sel[:, q2, :]
        den = 2.0 * (a[..., 0] * c[..., 1] - a[..., 1] * c[..., 0])
        a2 = a[..., 0] ** 2 + a[..., 1] ** 2
        c2 = c[..., 0] ** 2 + c[..., 1] ** 2
        ok = np.abs(den) > 1e-12
        den = np.where(ok, den, 1.0)
        ux = (c[..., 1] * a2 - a[..., 1] * c2) / den
        uy = (a[..., 0] * c2 - c[..., 0] * a2) / den
        r2 = ux * ux + uy * uy
        near = np.full(ux.shape, np.inf)
        for j in range(kk):
            ex = ux - sel[:, j, 0, None]
            ey = uy - sel[:, j, 1, None]
            np.minimum(near, ex * ex + ey * ey, out=near)
        valid = ok & (near >= r2 * (1 - 1e-9) - 1e-15)
        rc2 = np.where(valid, r2, 0.0).max(axis=1)
        certified &= beyond > 4.0 * rc2 * (1 + 1e-9)
        np.maximum(best, np.sqrt(rc2), out=best)
    return best, certified


def axis_gap_kernel(d: np.ndarray, axis: int) -> np.ndarray:
    """Largest gap (pixels) between the phases along one axis, on the unit circle, (B,)."""
    return gap_rows(np.ascontiguousarray(d[:, :, axis].T))


def gap_rows(v: np.ndarray) -> np.ndarray:
    """Largest circular gap of the phases of rows ``v`` (N, B), shape (B,).

    Sort-free: the gap after phase k is its forward distance to the next phase.  For a
    pair j > k, ``g = frac(v_j - v_k)`` is the forward distance from k to j and ``1 - g``
    the one from j to k, so of equal phases only the earlier looks past the others (it
    sees the later at distance 1).  1 for a single phase.
    """
    n, b = v.shape
    nxt = np.ones((n, b))
    g = np.empty(b)
    h = np.empty(b)
    for k in range(n):
        for j in range(k + 1, n):
            np.subtract(v[j], v[k], out=g)
            g -= np.floor(g, out=h)
            np.minimum(nxt[k], g, out=nxt[k])
            np.subtract(1.0, g, out=h)
            np.minimum(nxt[j], h, out=nxt[j])
    return nxt.max(axis=0)


def clearance_kernel(d: np.ndarray) -> np.ndarray:
    """Smallest Chebyshev distance (pixels) between the offsets of any two exposures, (B,)."""
    return clearance_rows(*_rows(d))


def clearance_rows(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Hot-pixel clearance of rows ``dx``, ``dy`` (N, B), shape (B,); 0 for one exposure."""
    n, b = dx.shape
    if n < 2:
        return np.zeros(b)
    best = np.full(b, np.inf)
    ax = np.empty(b)
    ay = np.empty(b)
    for k in range(n - 1):
        for j in range(k + 1, n):
            np.abs(np.subtract(dx[j], dx[k], out=ax), out=ax)
            np.abs(np.subtract(dy[j], dy[k], out=ay), out=ay)
            np.minimum(best, np.maximum(ax, ay, out=ax), out=best)
    return best


# --------------------------------------------------------------------------------------
# scalar wrappers for one set of offsets
# --------------------------------------------------------------------------------------
def sampling_efficiency(offsets: Any, oversample: tuple[int, int] | int = (2, 2)) -> float:
    """Sampling efficiency ``1/η²`` of a set of pixel offsets, in [0, 1].

    Parameters
    ----------
    offsets : Pattern or array_like, shape (N, 2)
        Pixel offsets (only their fractional parts matter).
    oversample : (n_x, n_y) or int, optional
        Target sampling, in output pixels per detector pixel (default 2 × 2).

    Returns
    -------
    float
        1 for ideal interlaced phases; 0 when the phases cannot rebuild the grid
        (fewer than ``n_x n_y`` frames, or degenerate phases).  Computed in double
        precision from the eigenvalues of AᴴA (the batched kernels behind
        :func:`~ditherlab.score.phase_coverage` are good to ~1e-6).

    Examples
    --------
    >>> round(sampling_efficiency([[0, 0], [0, .5], [.5, .5], [.5, 0]]), 12)
    1.0
    >>> sampling_efficiency([[0, 0], [0.5, 0.5]])
    0.0
    """
    d = _offsets(offsets)
    nx, ny = _oversample(oversample, "oversample")
    return _efficiency_exact(d, nx, ny)


def noise_amplification(offsets: Any, oversample: tuple[int, int] | int = (2, 2)) -> float:
    """Lauer's noise amplification η of a set of pixel offsets, capped at :data:`ETA_CAP`.

    Parameters
    ----------
    offsets : Pattern or array_like, shape (N, 2)
        Pixel offsets (only their fractional parts matter).
    oversample : (n_x, n_y) or int, optional
        Target sampling, in output pixels per detector pixel (default 2 × 2).

    Returns
    -------
    float
        η in [1, 10]; 10 (:data:`ETA_CAP`) when the phases cannot support the requested
        sampling (see the module docstring, and :func:`sampling_efficiency` = 1/η²).

    Examples
    --------
    >>> round(noise_amplification([[0, 0], [0, .5], [.5, .5], [.5, 0]]), 12)
    1.0
    >>> noise_amplification([[0, 0], [0.5, 0.5]])
    10.0
    """
    return float(eta_from_efficiency(sampling_efficiency(offsets, oversample)))


def covering_radius(offsets: Any) -> float:
    """Largest distance (pixels) from any point of the unit cell to the nearest phase.

    Exact (the farthest point is a periodic Voronoi vertex; see
    :func:`covering_radius_kernel`).

    Examples
    --------
    >>> round(covering_radius([[0, 0]]), 6)
    0.707107
    >>> round(covering_radius([[0, 0], [0, .5], [.5, .5], [.5, 0]]), 6)
    0.353553
    """
    return float(covering_radius_kernel(_offsets(offsets)[None])[0])


def phase_gaps(offsets: Any) -> tuple[float, float]:
    """Largest phase gap (pixels) along x and along y, on the unit circle.

    Examples
    --------
    >>> phase_gaps([[0, 0], [0, .5], [.5, .5], [.5, 0]])
    (0.5, 0.5)
    """
    d = _offsets(offsets)[None]
    return float(axis_gap_kernel(d, 0)[0]), float(axis_gap_kernel(d, 1)[0])


def hot_pixel_clearance(offsets: Any) -> float:
    """Smallest Chebyshev separation (pixels) between any two exposures' offsets.

    Below 1, a hot pixel's footprint in one exposure overlaps its footprint in another;
    0 for a single exposure.

    Examples
    --------
    >>> hot_pixel_clearance([[0, 0], [5.0, 1.5], [2.5, 4.5], [-2.5, 3.0]])
    3.0
    """
    return float(clearance_kernel(_offsets(offsets)[None])[0])


def phase_metrics(offsets: Any, oversample: tuple[int, int] | int = (2, 2)) -> dict[str, float]:
    """All phase scores of one set of pixel offsets.

    Returns
    -------
    dict
        ``eta`` (:func:`noise_amplification`, capped), ``efficiency``
        (:func:`sampling_efficiency`), ``covering_radius`` (pixels), ``gap_x`` and
        ``gap_y`` (:func:`phase_gaps`), ``clearance`` (:func:`hot_pixel_clearance`) and
        ``n_distinct`` phases (to 0.01 px).
    """
    d = _offsets(offsets)
    eff = sampling_efficiency(d, oversample)
    gx, gy = phase_gaps(d)
    ph = np.round(np.mod(d, 1.0), 2) % 1.0
    return {
        "eta": float(eta_from_efficiency(eff)),
        "efficiency": eff,
        "covering_radius": covering_radius(d),
        "gap_x": gx,
        "gap_y": gy,
        "clearance": hot_pixel_clearance(d),
        "n_distinct": float(len({(float(x), float(y)) for x, y in ph})),
    }
