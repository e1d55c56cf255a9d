"""Plots of the geometry scores (matplotlib is imported only when a plot is made)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab._validation import as_choice

__all__ = ["plot_depth", "plot_phase_coverage"]

_LABELS = {
    "eta": ("Lauer η (capped at 10)", "magma_r"),
    "efficiency": ("sampling efficiency 1/η²", "viridis"),
    "covering_radius": ("covering radius (px)", "magma_r"),
    "gap_x": ("largest x phase gap (px)", "magma_r"),
    "gap_y": ("largest y phase gap (px)", "magma_r"),
    "clearance": ("hot-pixel clearance (px)", "viridis"),
}


def _chip_layout(res: Any) -> list[tuple[int, float]]:
    """(chip index, y offset in display pixels) bottom to top, with the gap drawn to scale."""
    out, y0 = [], 0.0
    for i, c in enumerate(res.chips):
        out.append((i, y0))
        y0 += c.shape[0] + (c.gap if len(res.chips) > 1 else 0.0)
    return out


def _draw_map(ax: Any, res: Any, values: np.ndarray, norm: Any, cmap: str):
    mesh = None
    for i, y0 in _chip_layout(res):
        rows = np.flatnonzero((res.chip == i).all(axis=1))
        ny, nx = res.chips[i].shape
        gx = res.x.shape[1]
        xe = np.linspace(-0.5, nx - 0.5, gx + 1)
        ye = np.linspace(-0.5, ny - 0.5, rows.size + 1) + y0
        mesh = ax.pcolormesh(xe, ye, values[rows], norm=norm, cmap=cmap, shading="flat")
        if len(res.chips) > 1:
            ax.text(
                nx / 2, y0 + ny / 2, res.chips[i].name, ha="center", va="center",
                fontsize=8, color="0.25",
            )
    ax.set_aspect("equal")
    ax.set_xlabel("x (flt pixels)")
    ax.set_ylabel("y (flt pixels, chips stacked)" if len(res.chips) > 1 else "y (flt pixels)")
    return mesh


def plot_phase_coverage(res: Any, metric: str = "eta", index: int = 0, fig: Any = None):
    """Maps of one geometry score over the prime aperture and each parallel.

    One panel per aperture, each cell coloured by the score at its centre; for a
    two-chip camera the chips are stacked in their sky order with the gap to scale.  All
    panels share one colour scale, so the prime and the parallels compare directly.

    Parameters
    ----------
    res : PhaseCoverage
        The result of :func:`ditherlab.score.phase_coverage`.
    metric : str, optional
        One of ``eta`` (default), ``efficiency``, ``covering_radius``, ``gap_x``,
        ``gap_y``, ``clearance``.
    index : int, optional
        Which pattern of a batch.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (a new one by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    from ditherlab.score.geometry import METRICS

    metric = as_choice("metric", metric, METRICS)
    results = [r for r, _ in res._roles()]
    maps = [r.map(metric, index) for r in results]
    lo = min(float(m.min()) for m in maps)
    hi = max(float(m.max()) for m in maps)
    if metric == "eta":
        lo = 1.0
    if metric == "efficiency":
        lo, hi = min(lo, 0.0), 1.0
    if hi - lo < 1e-6:
        hi = lo + 1e-6
    norm = Normalize(lo, hi)
    label, cmap = _LABELS[metric]
    if fig is None:
        fig = plt.figure(figsize=(4.6 * len(results) + 1.2, 4.4), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    mesh = None
    i = res._index(index)
    for ax, r, m in zip(axes, results, maps, strict=True):
        mesh = _draw_map(ax, r, m, norm, cmap)
        worst = np.atleast_1d(getattr(r, f"{metric}_worst"))[i if r.batched else 0]
        mean = np.atleast_1d(getattr(r, f"{metric}_mean"))[i if r.batched else 0]
        role = "prime" if r.aperture is r.prime else "parallel"
        ax.set_title(
            f"{r.aperture.name} ({role})\nmean {mean:.3g}, worst {worst:.3g}", fontsize=10
        )
    fig.colorbar(mesh, ax=list(axes), label=label, shrink=0.85)
    fig.suptitle(f"{res.pattern_names[i]}: {label}", fontsize=11)
    return fig


def plot_depth(depth: Any, ax: Any = None):
    """Draw a :class:`~ditherlab.score.SkyDepth`: exposures per sky point, chip outlines.

    The map is in the prime aperture's ideal (POS TARG) frame for the undithered
    pointing; the outlines are the chips at that pointing.  The title gives the fraction
    of the chip gap filled at least once and at least twice.

    Parameters
    ----------
    depth : SkyDepth
        The result of :func:`ditherlab.score.depth_map`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (a new figure by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.6), layout="constrained")
    else:
        fig = ax.figure
    n = depth.n_exposures
    cmap = plt.get_cmap("viridis", n + 1)
    norm = BoundaryNorm(np.arange(-0.5, n + 1.5), n + 1)
    x, y = depth.x, depth.y
    dx, dy = x[1] - x[0], y[1] - y[0]
    mesh = ax.pcolormesh(
        np.append(x - dx / 2, x[-1] + dx / 2),
        np.append(y - dy / 2, y[-1] + dy / 2),
        depth.depth,
        cmap=cmap,
        norm=norm,
        shading="flat",
    )
    for poly, chip in zip(depth.outlines, depth.chips, strict=True):
        closed = np.vstack([poly, poly[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color="w", lw=0.8)
        c = poly.mean(axis=0)
        ax.text(c[0], c[1], chip.name, color="w", ha="center", va="center", fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{depth.aperture.name} ideal X (arcsec)")
    ax.set_ylabel(f"{depth.aperture.name} ideal Y (arcsec)")
    title = f"{depth.pattern_name}: exposures per sky point"
    if depth.gap_points:
        title += (
            f"\nchip gap filled ≥1×: {depth.gap_once:.1%}, ≥2×: {depth.gap_twice:.1%}"
        )
    ax.set_title(title, fontsize=10)
    fig.colorbar(mesh, ax=ax, ticks=np.arange(n + 1), label="exposures", shrink=0.85)
    return fig
