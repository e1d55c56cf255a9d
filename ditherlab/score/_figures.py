"""Figures of the comparison report (matplotlib is imported inside each function).

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot, so making
a report leaves no figure open in an interactive session.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "figure_png",
    "plot_coverage_figure",
    "plot_depth_figure",
    "plot_pattern_figure",
    "plot_split",
    "plot_star_cutouts",
    "plot_weight_map",
]


def _figure(size: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=90)


def figure_png(fig) -> bytes:
    """PNG bytes of a figure (no timestamp in the metadata: same figure, same bytes)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def plot_coverage_figure(coverage, metric: str, index: int):
    """Map of one geometry score over the prime and each parallel (shared colour scale)."""
    from matplotlib.figure import Figure

    n = 1 + len(coverage.parallels)
    fig = Figure(figsize=(4.4 * n + 1.2, 4.2), dpi=90, layout="constrained")
    return coverage.plot(metric, index=index, fig=fig)


def plot_depth_figure(depth):
    """Exposures per sky point over a two-chip camera, with the chip-gap fractions."""
    from matplotlib.figure import Figure

    from ditherlab.score.plotting import plot_depth

    fig = Figure(figsize=(6.0, 5.0), dpi=90, layout="constrained")
    plot_depth(depth, ax=fig.add_subplot(1, 1, 1))
    return fig


def plot_pattern_figure(pattern, aperture):
    """Pixel steps and sub-pixel phases of a POS TARG pattern at the reference pixel."""
    from ditherlab.planner.plotting import plot_pattern

    fig = _figure((9.0, 4.2))
    return plot_pattern(pattern, aperture, fig=fig)


def plot_split(table, split, marks: dict[int, list[str]]):
    """Cosmic-ray loss and S/N against the number of exposures, the patterns marked.

    ``split`` is a :func:`ditherlab.planner.split_table` for N = 1 … 9 with the same
    detector numbers as the comparison; ``marks`` maps N to the patterns with N exposures.
    """
    fig = _figure((7.5, 4.0))
    ax1 = fig.add_subplot(1, 1, 1)
    n = np.asarray(split["n_exposures"])
    loss = np.asarray(split["cr_lost_pixels"], float)
    floor = 1e-2  # below a hundredth of a pixel per chip the loss is nil
    shown = np.where(loss > floor, loss, np.nan)
    ax1.semilogy(n, shown, "o-", color="C1", label="CR pixels lost (< 0.01 not drawn)")
    ax1.set_ylim(floor, max(10.0, float(np.nanmax(shown, initial=10.0))) * 3)
    ax1.set_xlabel("number of exposures N (total time fixed)")
    ax1.set_ylabel("pixels lost to cosmic rays per chip", color="C1")
    ax1.axhline(1.0, color="C1", lw=0.6, ls=":")
    ax2 = ax1.twinx()
    ax2.plot(n, np.asarray(split["snr"]), "s--", color="C0", label="S/N")
    ax2.set_ylabel("S/N of the test source", color="C0")
    for k, names in sorted(marks.items()):
        ax1.axvline(k, color="0.88", lw=10, zorder=0)
        ax1.annotate(
            ", ".join(names),
            (k, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="top",
            rotation=90,
            fontsize=7,
        )
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8)
    T = float(split.meta.get("total_time", np.nan))
    ax1.set_title(f"Splitting {T:g} s: cosmic-ray loss p^N against S/N", fontsize=10)
    fig.tight_layout()
    return fig


def plot_weight_map(wht: np.ndarray, title: str, scale_arcsec: float):
    """A drizzled weight map over the common area, with its RMS/median in the title."""
    fig = _figure((4.6, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    w = np.asarray(wht, float)
    good = np.isfinite(w)
    ys, xs = np.nonzero(good)
    cut = w[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    vals = cut[np.isfinite(cut)]
    med = float(np.median(vals))
    im = ax.imshow(cut / med, origin="lower", cmap="magma", vmin=0, vmax=2, interpolation="nearest")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("weight / median weight")
    rms = float(np.std(vals) / med)
    holes = float(np.mean(vals <= 0))
    ax.set_title(f"{title}\nRMS/median {rms:.3f}, holes {holes:.1%}", fontsize=9)
    ax.set_xlabel(f"output x [pixel of {scale_arcsec:.4f}″]")
    ax.set_ylabel("output y [pixel]")
    fig.tight_layout()
    return fig


def plot_star_cutouts(scores, n: int = 5):
    """Cut-outs of the brightest isolated stars of a drizzled product (square-root stretch).

    ``scores`` is a :class:`~ditherlab.score.evaluate.ProductScores`; each panel is
    centred on a star's true position (+), with the measured centroid (×).
    """
    from matplotlib.colors import PowerNorm

    st = scores.stars
    order = np.argsort(-np.asarray(st["flux_true"], float))[:n] if len(st) else []
    k = max(len(order), 1)
    fig = _figure((2.3 * k + 0.8, 2.7))
    if not len(order):
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no isolated star in the common area", ha="center", va="center")
        ax.set_axis_off()
        return fig
    sci = np.nan_to_num(np.asarray(scores.sci, float))
    scale = scores.final_scale
    half = int(np.ceil(0.25 / scale))  # ±0.25″
    axes = fig.subplots(1, k, squeeze=False)[0]
    im = None
    for ax, i in zip(axes, order, strict=True):
        x, y = float(st["x"][i]), float(st["y"][i])
        ix, iy = round(x), round(y)
        cut = sci[iy - half : iy + half + 1, ix - half : ix + half + 1]
        peak = float(np.max(cut)) if cut.size and np.max(cut) > 0 else 1.0
        ext = (np.array([-half - 0.5, half + 0.5, -half - 0.5, half + 0.5]) * scale).tolist()
        norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
        im = ax.imshow(np.clip(cut / peak, 0, None), origin="lower", extent=ext,
                       cmap="viridis", norm=norm)  # fmt: skip
        ax.plot((x - ix) * scale, (y - iy) * scale, "+", color="w", ms=8)
        ax.plot((float(st["xc"][i]) - ix) * scale, (float(st["yc"][i]) - iy) * scale, "x",
                color="r", ms=6)  # fmt: skip
        ax.set_title(f"FWHM {float(st['fwhm'][i]):.3f}″\nflux {float(st['flux'][i]):.0f} e⁻/s",
                     fontsize=8)  # fmt: skip
        ax.tick_params(labelsize=7)
        ax.set_xlabel("Δx [arcsec]", fontsize=8)
    axes[0].set_ylabel("Δy [arcsec]", fontsize=8)
    cb = fig.colorbar(im, ax=list(axes), fraction=0.03, pad=0.02)
    cb.set_label("fraction of the star's peak (√ stretch)", fontsize=8)
    fig.suptitle(
        f"{scores.pattern}: drizzled stars (final_scale {scale:.4f}″, "
        f"final_pixfrac {scores.final_pixfrac:.1f}); + true position, × centroid",
        fontsize=9,
    )
    return fig
