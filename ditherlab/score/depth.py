"""How many exposures of a pattern see each point of the sky, and how well the chip gap fills.

A POS TARG ``P_k`` places the target at ideal position ``P_k`` of the prime aperture, so a
sky point that the undithered pointing puts at ideal ``s`` lies at ``s + P_k`` in exposure
``k``; it is seen if that point falls on any chip of the camera.  Chip outlines are the
flt array edges (``-0.5`` and ``n - 0.5``) carried through each chip's SIAF polynomial and
V2/V3 into the prime's ideal frame, so the gap between the ACS/WFC or WFC3/UVIS chips (about
2.5″ and 1.2″; ACS and WFC3 Instrument Handbooks) comes out of the geometry.

Cosmic rays can only be rejected where at least two frames overlap (DrizzlePac Handbook
§2.2), so :func:`depth_map` reports the fraction of the chip gap filled at least once and at
least twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ditherlab._validation import as_float, as_int

__all__ = ["SkyDepth", "depth_map"]

#: Samples per chip edge for the outline polygons (the edges are nearly straight: with 32
#: samples the sagitta between samples is far below a pixel).
_EDGE_SAMPLES = 32


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class SkyDepth:
    """Sky coverage of one POS TARG pattern on a camera; made by :func:`depth_map`.

    Attributes
    ----------
    aperture : Aperture
        The prime aperture (the POS TARG frame).
    chips : tuple of Aperture
        The chips of the camera, bottom to top.
    pattern_name : str
    postargs : ndarray, shape (N, 2)
        POS TARGs (arcsec).
    x, y : ndarray
        Axes of the map: ideal X and Y (arcsec) of the prime for the undithered pointing.
    depth : ndarray of int, shape (len(y), len(x))
        Number of exposures that see each sky point.
    outlines : tuple of ndarray
        Each chip's outline (M, 2) in the same frame, for the undithered pointing.
    gap_once, gap_twice : float
        Fraction of the chip gap (the sky between the chips in the undithered pointing)
        seen by at least one, at least two exposures; NaN for a single-chip camera.
    gap_points : int
        Number of sky samples in the gap.
    """

    aperture: Any
    chips: tuple[Any, ...]
    pattern_name: str
    postargs: np.ndarray
    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    outlines: tuple[np.ndarray, ...]
    gap_once: float
    gap_twice: float
    gap_points: int

    def __post_init__(self) -> None:
        for f in ("postargs", "x", "y", "depth"):
            a = np.array(getattr(self, f), copy=True)
            a.setflags(write=False)
            object.__setattr__(self, f, a)

    @property
    def n_exposures(self) -> int:
        """N, the number of exposures."""
        return int(self.postargs.shape[0])

    def area(self, minimum: int = 1) -> float:
        """Sky area (arcsec²) seen by at least ``minimum`` exposures."""
        minimum = as_int("minimum", minimum, minimum=0)
        cell = abs((self.x[1] - self.x[0]) * (self.y[1] - self.y[0]))
        return float(np.count_nonzero(self.depth >= minimum) * cell)

    def to_table(self):
        """Area seen by exactly 0..N exposures, one row per depth, as an astropy Table.

        ``meta`` holds the gap fractions.
        """
        from astropy.table import Table

        cell = abs((self.x[1] - self.x[0]) * (self.y[1] - self.y[0]))
        counts = np.bincount(self.depth.ravel(), minlength=self.n_exposures + 1)
        t = Table(
            {
                "depth": np.arange(self.n_exposures + 1),
                "area_arcsec2": counts * cell,
                "area_at_least_arcsec2": np.cumsum(counts[::-1])[::-1] * cell,
            }
        )
        t.meta.update(
            pattern=self.pattern_name,
            aperture=self.aperture.name,
            gap_once=self.gap_once,
            gap_twice=self.gap_twice,
        )
        return t

    def plot(self, ax: Any = None):
        """Draw the depth map; see :func:`ditherlab.score.plotting.plot_depth`."""
        from ditherlab.score.plotting import plot_depth

        return plot_depth(self, ax=ax)

    def __repr__(self) -> str:
        gap = (
            f", gap filled once {self.gap_once:.1%}, twice {self.gap_twice:.1%}"
            if self.gap_points
            else ""
        )
        return (
            f"<SkyDepth {self.pattern_name!r} on {self.aperture.name}: {self.n_exposures} "
            f"exposures, max depth {int(self.depth.max())}{gap}>"
        )


def _outline(chip: Any, prime: Any) -> np.ndarray:
    """A chip's flt array edge, counter-clockwise in sci pixels, in the prime's ideal frame."""
    ny, nx = chip.shape
    t = np.linspace(0.0, 1.0, _EDGE_SAMPLES, endpoint=False)
    xs = np.concatenate([-0.5 + nx * t, np.full_like(t, nx - 0.5), nx - 0.5 - nx * t,
                         np.full_like(t, -0.5)])
    ys = np.concatenate([np.full_like(t, -0.5), -0.5 + ny * t, np.full_like(t, ny - 0.5),
                         ny - 0.5 - ny * t])
    v2, v3 = chip.sci_to_tel(xs, ys)
    X, Y = prime.tel_to_idl(v2, v3)
    return np.column_stack([X, Y])


def _inside(poly: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: which points lie inside the closed polygon ``poly`` (M, 2)."""
    inside = np.zeros(px.shape, dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for a, b, c, d in zip(x0, y0, x1, y1, strict=True):
        if b == d:
            continue
        crosses = (b > py) != (d > py)
        xc = a + (py - b) * (c - a) / (d - b)
        inside ^= crosses & (px < xc)
    return inside


def _seen(outlines, post: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """How many exposures (POS TARGs ``post``) put each sky point (sx, sy) on a chip."""
    depth = np.zeros(sx.shape, dtype=np.int64)
    for X, Y in post:
        on = np.zeros(sx.shape, dtype=bool)
        for poly in outlines:
            on |= _inside(poly, sx + X, sy + Y)
        depth += on
    return depth


def _gap_samples(chips, outlines, prime, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Sky points between the chips facing each other (bottom chip's top edge, top's bottom)."""
    lo, hi = chips[0], chips[1]
    n_along = max(16, int(lo.shape[1] * max(lo.pixel_scale) / step))
    t = (np.arange(n_along) + 0.5) / n_along
    ends = []
    for chip, y_edge in ((lo, lo.shape[0] - 0.5), (hi, -0.5)):
        v2, v3 = chip.sci_to_tel(-0.5 + chip.shape[1] * t, np.full_like(t, y_edge))
        ends.append(np.column_stack(prime.tel_to_idl(v2, v3)))
    a, b = ends
    width = float(np.median(np.hypot(*(b - a).T)))
    n_across = max(8, int(np.ceil(width / (0.25 * min(lo.pixel_scale)))))  # 1/4 px
    u = (np.arange(n_across) + 0.5) / n_across
    pts = a[:, None, :] + u[None, :, None] * (b - a)[:, None, :]
    sx, sy = pts[..., 0].ravel(), pts[..., 1].ravel()
    keep = _seen(outlines, np.zeros((1, 2)), sx, sy) == 0  # really between the chips
    return sx[keep], sy[keep]


def depth_map(pattern: Any, aperture: Any, *, step: float = 1.0) -> SkyDepth:
    """Depth map of the sky for one POS TARG pattern on a (multi-chip) camera.

    Parameters
    ----------
    pattern : Pattern or array_like, shape (N, 2)
        POS TARGs (arcsec) in the prime's ideal frame, or a pixel-frame Pattern (taken at
        the aperture's reference pixel).
    aperture : Aperture or str
        The prime aperture; every chip of its camera is used (both ACS/WFC chips, both
        WFC3/UVIS chips; one chip for the single-chip detectors).
    step : float, optional
        Sampling of the map (arcsec, default 1″).  The gap fractions are measured on
        their own samples: ``step`` along the gap, a quarter pixel across it.

    Returns
    -------
    SkyDepth

    Examples
    --------
    >>> from ditherlab.planner import standard_pattern
    >>> d = depth_map(standard_pattern("ACS-WFC-DITHER-LINE"), "acs-wfc", step=4)
    >>> int(d.depth.max()), d.gap_once > 0.9
    (2, True)
    """
    from ditherlab.planner.apertures import get_aperture
    from ditherlab.score.geometry import _field_chips, _patterns

    prime = get_aperture(aperture)
    step = as_float("step", step, minimum=0.01, maximum=60.0)
    posts, names, batched = _patterns(pattern, prime)
    if batched:
        from ditherlab.errors import DitherlabValueError

        raise DitherlabValueError("depth_map scores one pattern at a time; got a batch")
    post = posts[0]
    chips = _field_chips(prime, "camera")
    outlines = tuple(_outline(c, prime) for c in chips)
    allpts = np.vstack(outlines)
    lo = allpts.min(axis=0) - post.max(axis=0) - step
    hi = allpts.max(axis=0) - post.min(axis=0) + step
    xs = np.arange(lo[0], hi[0] + step, step)
    ys = np.arange(lo[1], hi[1] + step, step)
    gxx, gyy = np.meshgrid(xs, ys)
    depth = _seen(outlines, post, gxx, gyy)
    once = twice = float("nan")
    n_gap = 0
    if len(chips) == 2:
        sx, sy = _gap_samples(chips, outlines, prime, step)
        n_gap = int(sx.size)
        if n_gap:
            g = _seen(outlines, post, sx, sy)
            once, twice = float(np.mean(g >= 1)), float(np.mean(g >= 2))
    return SkyDepth(
        aperture=prime,
        chips=chips,
        pattern_name=names[0],
        postargs=post,
        x=xs,
        y=ys,
        depth=depth,
        outlines=outlines,
        gap_once=once,
        gap_twice=twice,
        gap_points=n_gap,
    )
