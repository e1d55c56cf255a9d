r"""How well a dither pattern samples the sub-pixel phase plane.

Two complementary numbers per field position:

**Noise amplification η** (Lauer 1999).  To rebuild an image ``n_x × n_y`` times finer than
the detector pixels from N dithered frames, the frames' sub-pixel offsets δ_k must let the
``n_x n_y`` Fourier "satellites" be separated.  With the phase matrix

.. math::  A_{k,(j,l)} = \exp[-2\pi i\,(j\,\delta x_k + l\,\delta y_k)],
           \quad 0 \le j < n_x,\; 0 \le l < n_y,

the reconstruction is possible iff rank A = n_x n_y, and the noise of the least-squares
reconstruction relative to an ideal interlaced set of the same N frames is

.. math::  \eta^2 = \frac{N}{n_x n_y}\,\mathrm{tr}\,[(A^H A)^{-1}].

η = 1 exactly when :math:`A^H A = N I` (e.g. the 4-point half-pixel box for 2 × 2), and
η → ∞ as the phases become degenerate.  Only phase *differences* enter, so η does not
depend on where the pattern starts.

**Covering radius** ρ: the largest distance (pixels) from any point of the unit pixel cell
to the nearest sampled phase, on the torus.  ρ = √2/2 for a single frame, √2/4 ≈ 0.354
for the 4-point box, ≈ 0.236 for the 3 × 3 grid.  Unlike η it is defined for any N, and
it degrades smoothly when distortion moves phases away from their design values.

References
----------
Lauer, T. R. 1999, PASP 111, 227, "Combining Undersampled Dithered Images".
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (Drizzle).
DrizzlePac Handbook §2.2 (the dither families these metrics score).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab._validation import as_array, as_float, as_int, as_pair
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = [
    "covering_radius",
    "noise_amplification",
    "phase_map",
    "phase_metrics",
]


def _phases(offsets: Any, name: str = "offsets") -> np.ndarray:
    from ditherlab.planner.patterns import Pattern

    if isinstance(offsets, Pattern):
        return offsets.phases()
    arr = as_array(name, offsets, shape=(None, 2))
    if arr.shape[0] == 0:
        raise DitherlabValueError(f"{name} must hold at least one offset, got shape (0, 2)")
    return np.mod(arr, 1.0)


def _oversample(oversample: Any) -> tuple[int, int]:
    if np.isscalar(oversample):
        oversample = (oversample, oversample)
    if len(oversample) != 2:
        raise DitherlabValueError(f"oversample={oversample!r} must be an int or a pair (nx, ny)")
    nx = as_int("oversample[0]", oversample[0], minimum=1, maximum=16)
    ny = as_int("oversample[1]", oversample[1], minimum=1, maximum=16)
    return nx, ny


def noise_amplification(offsets: Any, oversample: tuple[int, int] | int = (2, 2)) -> float:
    """Lauer's noise amplification η of a set of pixel offsets (see module docstring).

    Parameters
    ----------
    offsets : Pattern or array_like, shape (N, 2)
        Pixel offsets (only their fractional parts matter).
    oversample : (n_x, n_y) or int, optional
        Target sampling, in output pixels per detector pixel (default 2 × 2).

    Returns
    -------
    float
        η ≥ 1; ``inf`` when the phases cannot support the requested sampling
        (fewer than ``n_x n_y`` distinct phases, or degenerate ones).

    Examples
    --------
    >>> round(noise_amplification([[0, 0], [0, .5], [.5, .5], [.5, 0]]), 12)
    1.0
    >>> noise_amplification([[0, 0], [0.5, 0.5]])
    inf
    """
    ph = _phases(offsets)
    nx, ny = _oversample(oversample)
    n = ph.shape[0]
    m = nx * ny
    if n < m:
        return float("inf")
    j, l = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    freq = np.column_stack([j.ravel(), l.ravel()]).astype(float)  # (m, 2)
    A = np.exp(-2j * np.pi * (ph @ freq.T))  # (n, m)
    G = A.conj().T @ A
    s = np.linalg.svd(G, compute_uv=False)
    if s[-1] <= s[0] * 1e-10:
        return float("inf")
    tr = float(np.sum(1.0 / s))  # G is Hermitian positive semidefinite: trace of inverse
    return float(np.sqrt(n / m * tr))


def covering_radius(offsets: Any, resolution: int = 64) -> float:
    """Largest distance (pixels) from any point of the unit cell to the nearest phase.

    Evaluated on a ``resolution × resolution`` grid of cell points (cell-centred), with
    periodic images of the phases, so the result is accurate to about
    ``0.71 / resolution`` pixel.

    Examples
    --------
    >>> round(covering_radius([[0, 0]], resolution=128), 2)
    0.7
    >>> round(covering_radius([[0, 0], [0, .5], [.5, .5], [.5, 0]], resolution=128), 2)
    0.35
    """
    ph = _phases(offsets)
    res = as_int("resolution", resolution, minimum=4, maximum=1024)
    g = (np.arange(res) + 0.5) / res
    gx, gy = np.meshgrid(g, g, indexing="xy")
    pts = np.column_stack([gx.ravel(), gy.ravel()])  # (res², 2)
    best = np.full(pts.shape[0], np.inf)
    for dx in (-1.0, 0.0, 1.0):
        for dy in (-1.0, 0.0, 1.0):
            img = ph + np.array([dx, dy])
            d2 = (pts[:, None, 0] - img[None, :, 0]) ** 2 + (pts[:, None, 1] - img[None, :, 1]) ** 2
            best = np.minimum(best, d2.min(axis=1))
    return float(np.sqrt(best.max()))


def phase_metrics(offsets: Any, oversample: tuple[int, int] | int = (2, 2)) -> dict[str, float]:
    """η, covering radius and per-axis phase coverage of one set of offsets.

    Returns
    -------
    dict
        ``eta`` (:func:`noise_amplification`), ``covering_radius`` (pixels),
        ``gap_x`` and ``gap_y``: the largest gap (pixels) between the x phases and
        between the y phases on the unit circle (0.5 for two phases half a pixel apart,
        1.0 for a single phase), and ``n_distinct`` phases (to 0.01 px).
    """
    ph = _phases(offsets)
    return {
        "eta": noise_amplification(ph, oversample),
        "covering_radius": covering_radius(ph),
        "gap_x": _circular_gap(ph[:, 0]),
        "gap_y": _circular_gap(ph[:, 1]),
        "n_distinct": float(len({(round(x, 2) % 1.0, round(y, 2) % 1.0) for x, y in ph})),
    }


def _circular_gap(values: np.ndarray) -> float:
    v = np.sort(np.mod(values, 1.0))
    gaps = np.diff(np.concatenate([v, [v[0] + 1.0]]))
    return float(gaps.max())


def phase_map(
    pattern: Any,
    aperture: Any,
    grid: tuple[int, int] | int = (5, 5),
    oversample: tuple[int, int] | int = (2, 2),
    margin: float = 20.0,
):
    """Phase metrics of a POS TARG pattern at a grid of positions across a chip.

    Geometric distortion makes one POS TARG a different pixel step at each place on a
    chip, so a pattern designed for half-pixel phases at the reference pixel drifts away
    from them towards the corners.  This evaluates :func:`phase_metrics` on the pixel
    steps at ``grid`` positions spread over the chip.

    Parameters
    ----------
    pattern : Pattern
        POS TARG pattern (a pixel pattern is first converted at the reference pixel,
        i.e. it is treated as the POS TARGs that give those steps there).
    aperture : Aperture or str
        The chip.
    grid : (n_x, n_y) or int, optional
        Number of positions along x and y (default 5 × 5).
    oversample : (n_x, n_y) or int, optional
        Target sampling for η.
    margin : float, optional
        Distance (pixels) of the outermost positions from the chip edge.

    Returns
    -------
    astropy.table.Table
        One row per position: ``x``, ``y`` (0-based flt pixels), ``eta``,
        ``covering_radius``, ``gap_x``, ``gap_y``; ``meta`` has the worst and median η.
    """
    from astropy.table import Table

    from ditherlab.planner.apertures import get_aperture
    from ditherlab.planner.patterns import Pattern

    if not isinstance(pattern, Pattern):
        raise DitherlabTypeError(
            f"pattern must be a Pattern (POS TARG or pixel), got {type(pattern).__name__}"
        )
    aperture = get_aperture(aperture)
    gx, gy = as_pair("grid", grid)
    if not (gx.is_integer() and gy.is_integer()) or gx < 1 or gy < 1:
        raise DitherlabValueError(f"grid={grid!r} must be positive integers")
    post = pattern if pattern.frame == "postarg" else aperture.postarg_offsets(pattern)
    ny, nx = aperture.shape
    margin = as_float("margin", margin, minimum=0, max_inclusive=False, maximum=min(nx, ny) / 2)
    xs = np.linspace(margin, nx - 1 - margin, int(gx)) if gx > 1 else [(nx - 1) / 2]
    ys = np.linspace(margin, ny - 1 - margin, int(gy)) if gy > 1 else [(ny - 1) / 2]
    rows = []
    for y in ys:
        for x in xs:
            pix = aperture.pixel_offsets(post, at=(float(x), float(y)))
            m = phase_metrics(pix.offsets, oversample)
            rows.append(
                (float(x), float(y), m["eta"], m["covering_radius"], m["gap_x"], m["gap_y"])
            )
    t = Table(rows=rows, names=("x", "y", "eta", "covering_radius", "gap_x", "gap_y"))
    eta = np.asarray(t["eta"])
    t.meta.update(
        aperture=aperture.name,
        pattern=pattern.name,
        eta_worst=float(np.max(eta)),
        eta_median=float(np.median(eta)),
        covering_radius_worst=float(np.max(t["covering_radius"])),
    )
    return t
