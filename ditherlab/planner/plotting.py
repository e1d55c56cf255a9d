"""Plots of dither patterns (matplotlib is imported only when a plot is made)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab.errors import DitherlabValueError
from ditherlab.planner.patterns import Pattern

__all__ = ["plot_pattern", "plot_title"]


def plot_pattern(
    pattern: Pattern,
    aperture: Any = None,
    at: tuple[float, float] | None = None,
    fig: Any = None,
):
    """Draw a pattern's pixel steps and its sub-pixel phases on the unit cell.

    Left panel: the exposures' offsets in detector pixels, numbered in execution order,
    over a whole-pixel grid.  Right panel: the phases (offsets modulo one pixel) on the
    unit pixel cell, with their periodic images faint, so gaps in the sub-pixel sampling
    are visible at a glance.

    Parameters
    ----------
    pattern : Pattern
        Pixel pattern, or a POS TARG pattern together with ``aperture``.
    aperture : Aperture or str, optional
        Converts a POS TARG pattern to pixel steps at ``at``.
    at : (x, y), optional
        Field position for the conversion (default the aperture's reference pixel).
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (a new one by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ditherlab.planner.apertures import get_aperture

    aperture = None if aperture is None else get_aperture(aperture)
    if pattern.frame == "postarg":
        if aperture is None:
            raise DitherlabValueError(
                f"pattern {pattern.name!r} is in POS TARG arcsec; pass aperture=... to plot "
                "its pixel steps"
            )
        pix = aperture.pixel_offsets(pattern, at=at)
    else:
        pix = pattern
    if fig is None:
        fig = plt.figure(figsize=(10, 5.4))
    ax1, ax2 = fig.subplots(1, 2)
    _draw_steps(ax1, pix.offsets)
    _draw_phases(ax2, pix.phases())
    fig.suptitle(plot_title(pattern, aperture, at))
    # fixed margins: tight_layout misjudges equal-aspect panels and clips the x labels
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.11, top=0.86, wspace=0.25)
    return fig


def _draw_steps(ax1: Any, off: np.ndarray) -> None:
    """Left panel: the pixel steps, numbered, in a square window."""
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    ax1.plot(off[:, 0], off[:, 1], "-", color="0.7", lw=1, zorder=1)
    ax1.scatter(off[:, 0], off[:, 1], c=np.arange(len(off)), cmap="viridis", zorder=2)
    for i, (x, y) in enumerate(off):
        ax1.annotate(str(i + 1), (x, y), textcoords="offset points", xytext=(4, 4))
    # a square window around the points (equal aspect without a sliver-thin panel), with
    # room for the labels inside the frame
    mid = (off.min(axis=0) + off.max(axis=0)) / 2
    half = max(float(np.max(off.max(axis=0) - off.min(axis=0))) / 2 * 1.2, 1.0) + 0.5
    ax1.set_xlim(mid[0] - half, mid[0] + half)
    ax1.set_ylim(mid[1] - half, mid[1] + half)
    grid = 2 * half <= 60  # whole-pixel grid lines while they can be told apart
    for axis in (ax1.xaxis, ax1.yaxis):
        # whole-pixel major ticks on the pixel grid; few enough never to overprint
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10], integer=grid))
        if grid:
            axis.set_minor_locator(MultipleLocator(1))
    if grid:
        ax1.grid(which="both", color="0.9", lw=0.8, zorder=0)
    ax1.set_aspect("equal")
    ax1.set_xlabel("x step [pixel]")
    ax1.set_ylabel("y step [pixel]")
    ax1.set_title("pixel steps, numbered in execution order", fontsize="medium")


def _draw_phases(ax2: Any, ph: np.ndarray) -> None:
    """Right panel: the phases on the unit cell, with their periodic images faint."""
    import matplotlib.pyplot as plt

    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                ax2.scatter(ph[:, 0] + dx, ph[:, 1] + dy, color="0.8", s=18)
    ax2.scatter(ph[:, 0], ph[:, 1], c=np.arange(len(ph)), cmap="viridis", s=40, zorder=3)
    for i, (x, y) in enumerate(ph):
        ax2.annotate(str(i + 1), (x, y), textcoords="offset points", xytext=(4, 4))
    ax2.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, color="k", lw=1))
    ax2.set_xlim(-0.25, 1.25)
    ax2.set_ylim(-0.25, 1.25)
    ax2.set_aspect("equal")
    ax2.set_xlabel("phase x [pixel]")
    ax2.set_ylabel("phase y [pixel]")
    ax2.set_title("sub-pixel phases (offsets mod 1 px)", fontsize="medium")


def plot_title(pattern: Pattern, aperture: Any = None, at: tuple[float, float] | None = None):
    """The title of :func:`plot_pattern`: pattern, size, and aperture and field position.

    Examples
    --------
    >>> from ditherlab.planner import subpixel
    >>> plot_title(subpixel(4), "wfc3-ir", (50, 950))
    '4-point box (4 exposures) — WFC3/IR IIRFIX at (x, y) = (50, 950)'
    >>> plot_title(subpixel(4))
    '4-point box (4 exposures) — pixel steps, no aperture'
    """
    from ditherlab.planner.apertures import get_aperture

    head = f"{pattern.name or 'pattern'} ({len(pattern)} exposures)"
    if aperture is None:
        return f"{head} — pixel steps, no aperture"
    ap = get_aperture(aperture)
    x, y = ap.reference_pixel if at is None else at
    where = "reference pixel " if at is None else ""
    return f"{head} — {ap.instrument}/{ap.detector} {ap.name} at {where}(x, y) = ({x:g}, {y:g})"
