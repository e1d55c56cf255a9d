"""Plots of the geometry scores (matplotlib is imported only when a plot is made)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab._validation import as_choice

__all__ = ["plot_depth", "plot_phase_coverage", "plot_product"]

#: Chip labels drawn over a colour map: dark text on a pale box, legible on any colour.
_LABEL_STYLE = {
    "ha": "center",
    "va": "center",
    "fontsize": 8,
    "color": "black",
    "bbox": {"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none",
             "alpha": 0.8},
}

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
            ax.text(nx / 2, y0 + ny / 2, res.chips[i].name, **_LABEL_STYLE)
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
        ax.text(c[0], c[1], chip.name, **_LABEL_STYLE)
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


def _compass(ax: Any, wcs: Any, shape: tuple[int, int], length_px: float) -> None:
    """North and East arrows from ``wcs`` at the upper right of an image panel."""
    ny, nx = shape
    x0, y0 = 0.82 * nx, 0.75 * ny
    ra, dec = wcs.pixel_to_world_values(x0, y0)
    eps = 1.0 / 3600.0
    xn, yn = wcs.world_to_pixel_values(ra, dec + eps)
    xe, ye = wcs.world_to_pixel_values(ra + eps / np.cos(np.deg2rad(dec)), dec)
    for (x1, y1), label in (((xn, yn), "N"), ((xe, ye), "E")):
        d = np.array([float(x1) - x0, float(y1) - y0])
        d *= length_px / np.hypot(*d)
        ax.annotate("", xy=(x0 + d[0], y0 + d[1]), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.5})  # fmt: skip
        ax.text(x0 + 1.3 * d[0], y0 + 1.3 * d[1], label, color="red", ha="center",
                va="center", fontsize=9, fontweight="bold")  # fmt: skip


def _scale_bar(ax: Any, wcs: Any, shape: tuple[int, int]) -> None:
    """A bar of a round number of arcsec at the lower left of an image panel."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    ny, nx = shape
    arcsec_per_px = float(np.sqrt(np.prod(proj_plane_pixel_scales(wcs.celestial)))) * 3600.0
    width = nx * arcsec_per_px
    length = next((v for v in (10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1) if v <= width / 4), 0.1)
    n = length / arcsec_per_px
    x0, y0 = 0.06 * nx, 0.07 * ny
    ax.plot([x0, x0 + n], [y0, y0], color="red", lw=3, solid_capstyle="butt")
    ax.text(x0 + n / 2, y0 + 0.03 * ny, f"{length:g}″", color="red", ha="center",
            va="bottom", fontsize=9, fontweight="bold")  # fmt: skip


def _image_panels(panels: list, fig: Any = None):
    """Image panels side by side: pixel axes, a colour bar with its unit, scale bar, compass.

    ``panels`` holds ``(image, wcs, title, colour-bar label, cmap, (vmin, vmax))``.
    """
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(4.6 * len(panels), 4.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (img, wcs, title, unit, cmap, (lo, hi)) in zip(axes, panels, strict=True):
        im = ax.imshow(img, origin="lower", cmap=cmap, vmin=lo, vmax=hi,
                       interpolation="nearest")  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
        ax.tick_params(labelsize=8)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, location="bottom")
        cb.set_label(unit, fontsize=9)
        cb.ax.tick_params(labelsize=8)
        _scale_bar(ax, wcs, img.shape)
        _compass(ax, wcs, img.shape, 0.1 * min(img.shape))
        ax.set_xlim(-0.5, img.shape[1] - 0.5)
        ax.set_ylim(-0.5, img.shape[0] - 0.5)
    return fig


def plot_product(scores: Any, fig: Any = None):
    """One raw exposure beside the drizzled product, its residual from the truth and weight.

    Four panels, each with pixel axes, a colour bar with its unit, an arcsec scale bar and
    a North/East compass from its WCS: the first simulated exposure (e⁻); the pipeline's
    drizzle (e⁻/s); the drizzle minus the noiseless truth drizzled alike (noise, and any
    cosmic-ray or hot-pixel charge the rejection left); the final weight.

    Parameters
    ----------
    scores : ProductScores
        From :func:`ditherlab.score.evaluate` (its last realisation is drawn).
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (a new one by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    prod, raw_exp = scores.products, scores.exposures[0]
    raw = raw_exp.chips[0]
    sci = np.asarray(scores.sci, float)
    wht = np.asarray(scores.wht, float)
    good = np.isfinite(sci) & (wht > 0)
    lo, hi = np.percentile(sci[good], [5, 99.5])
    res = np.where(good, sci - scores.truth, np.nan)
    r = float(np.percentile(np.abs(res[good] - np.median(res[good])), 99.0))
    unit = "e⁻ s⁻¹ per output pixel"
    panels = [
        (raw.sci, raw.wcs, f"one raw exposure ({raw_exp.rootname})", "e⁻ per pixel", "gray",
         tuple(np.percentile(raw.sci, [5, 99.5]))),
        (sci, prod.wcs, "drizzled, CRs found by the pipeline", unit, "gray", (lo, hi)),
        (res, prod.wcs, "drizzled − noiseless truth drizzled alike", unit, "RdBu_r",
         (-r, r)),
        (wht, prod.wcs, "final weight", "weight: Σ exptime × drop-area fraction (s)",
         "viridis", (0.0, float(np.max(wht)))),
    ]  # fmt: skip
    return _image_panels(panels, fig)
