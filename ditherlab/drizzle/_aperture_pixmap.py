"""Pixmaps straight from an aperture and a pointing, without building a WCS.

For planning, the natural output frame is the prime aperture's *ideal* frame, the frame
POS TARGs are given in: distortion-free, in arcsec, with its origin at the aperture's
reference point when POS TARG = (0, 0).  An exposure taken at POS TARG ``P`` sees the sky
point that lies at ideal position ``ξ0`` (at ``P = 0``) at ``ξ0 + P``.  So an input pixel
that sees ideal position ``ξ`` (through its chip's distortion, and through V2/V3 when the
chip is not the prime) belongs at ``ξ − P`` on the output grid.

Planar approximation throughout (as the HST SIAF's own ideal ↔ V2/V3 transform); over a
few arcminutes it departs from the spherical sky by well under a milliarcsecond.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ditherlab._validation import as_float, as_int, as_pair
from ditherlab.drizzle._pixmap import pixmap_from_functions
from ditherlab.errors import DitherlabValueError

__all__ = ["IdealGrid", "aperture_to_ideal", "pixmap_from_aperture"]


@dataclasses.dataclass(frozen=True)
class IdealGrid:
    """A distortion-free output pixel grid in a prime aperture's ideal (POS TARG) frame.

    Parameters
    ----------
    prime : str
        Name of the aperture whose ideal frame the grid samples.
    scale : float
        Output pixel size, arcsec (> 0).
    shape : (int, int)
        ``(ny, nx)`` of the output array.
    reference : (float, float)
        Output pixel ``(x, y)`` (0-based) of ideal position (0, 0): the prime's reference
        point at POS TARG (0, 0).

    Notes
    -----
    Output x runs along ideal +X, y along ideal +Y, so the drizzled image has the
    orientation of the prime's detector (ACS/WFC ideal X differs from the detector x
    axis by about 5°).
    """

    prime: str
    scale: float
    shape: tuple[int, int]
    reference: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "scale", as_float("scale", self.scale, minimum=0, min_inclusive=False)
        )
        if np.ndim(self.shape) != 1 or len(self.shape) != 2:
            raise DitherlabValueError(f"shape={self.shape!r} must be (ny, nx)")
        ny, nx = self.shape
        object.__setattr__(
            self, "shape", (as_int("shape[0]", ny, minimum=1), as_int("shape[1]", nx, minimum=1))
        )
        object.__setattr__(self, "reference", as_pair("reference", self.reference))

    def to_pixel(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Output pixel ``(x, y)`` of ideal position ``(X, Y)`` arcsec."""
        return (
            np.asarray(X, float) / self.scale + self.reference[0],
            np.asarray(Y, float) / self.scale + self.reference[1],
        )

    def to_ideal(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Ideal position ``(X, Y)`` arcsec of output pixel ``(x, y)``."""
        return (
            (np.asarray(x, float) - self.reference[0]) * self.scale,
            (np.asarray(y, float) - self.reference[1]) * self.scale,
        )

    @classmethod
    def covering(
        cls,
        prime: Any,
        chips: Sequence[Any],
        postargs: Any,
        scale: float | None = None,
        final_scale: float = 1.0,
        subarrays: Sequence[tuple[int, int, int, int] | None] | None = None,
        margin: int = 2,
    ) -> IdealGrid:
        """The smallest grid holding every chip at every pointing.

        Parameters
        ----------
        prime : Aperture or str
            The prime aperture (its ideal frame is the output frame).
        chips : sequence of Aperture or str
            The chips that will be drizzled.
        postargs : Pattern or array_like, shape (N, 2)
            The exposures' POS TARGs (arcsec, prime ideal frame).
        scale : float, optional
            Output pixel size in arcsec; default ``final_scale`` × the prime's mean pixel
            scale at its reference pixel.
        final_scale : float, optional
            Output pixel size in input pixels (AstroDrizzle's ``final_scale`` divided by
            the native scale), used when ``scale`` is not given.
        subarrays : sequence of (x0, y0, nx, ny) or None, optional
            Cut-out of each chip that is drizzled (default the whole chip).
        margin : int, optional
            Extra output pixels on every side.
        """
        from ditherlab.planner.apertures import get_aperture
        from ditherlab.planner.patterns import Pattern

        ap = get_aperture(prime)
        post = postargs.offsets if isinstance(postargs, Pattern) else np.asarray(postargs, float)
        if post.ndim != 2 or post.shape[1] != 2 or not np.all(np.isfinite(post)):
            raise DitherlabValueError(f"postargs must be finite (N, 2) arcsec, got {post.shape}")
        if scale is None:
            fs = as_float("final_scale", final_scale, minimum=0, min_inclusive=False)
            scale = fs * float(np.mean(ap.pixel_scale))
        chips = [get_aperture(c) for c in chips]
        subs = list(subarrays) if subarrays is not None else [None] * len(chips)
        if len(subs) != len(chips):
            raise DitherlabValueError(f"subarrays has {len(subs)} entries for {len(chips)} chips")
        xs, ys = [], []
        for chip, sub in zip(chips, subs, strict=True):
            ny, nx = chip.shape
            x0, y0, w, h = (0, 0, nx, ny) if sub is None else sub
            t = np.linspace(0.0, 1.0, 17)
            ex = np.concatenate(
                [
                    x0 - 0.5 + t * w,
                    np.full(17, x0 + w - 0.5),
                    x0 - 0.5 + t * w,
                    np.full(17, x0 - 0.5),
                ]
            )
            ey = np.concatenate(
                [
                    np.full(17, y0 - 0.5),
                    y0 - 0.5 + t * h,
                    np.full(17, y0 + h - 0.5),
                    y0 - 0.5 + t * h,
                ]
            )
            X, Y = aperture_to_ideal(chip, ap)(ex, ey)
            for px, py in post:
                xs.append(X - px)
                ys.append(Y - py)
        X, Y = np.concatenate(xs), np.concatenate(ys)
        m = as_int("margin", margin, minimum=0)
        xmin, xmax = np.floor(X.min() / scale) - m, np.ceil(X.max() / scale) + m
        ymin, ymax = np.floor(Y.min() / scale) - m, np.ceil(Y.max() / scale) + m
        shape = (int(ymax - ymin) + 1, int(xmax - xmin) + 1)
        return cls(ap.name, float(scale), shape, (-float(xmin), -float(ymin)))


def aperture_to_ideal(
    aperture: Any, prime: Any = None
) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``f(x, y) -> (X, Y)``: a chip's flt pixels to the prime's ideal frame (arcsec).

    For the prime's own chip this is the SIAF science → ideal polynomial; for any other
    chip (the second chip of a camera, or a parallel camera) the path is chip pixel →
    V2/V3 → prime ideal.
    """
    from ditherlab.planner.apertures import get_aperture

    ap = get_aperture(aperture)
    pr = ap if prime is None else get_aperture(prime)
    if ap.name == pr.name:
        return ap.sci_to_postarg

    def to_ideal(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v2, v3 = ap.sci_to_tel(x, y)
        return pr.tel_to_idl(v2, v3)

    return to_ideal


def pixmap_from_aperture(
    aperture: Any,
    postarg: tuple[float, float] | Any,
    grid: IdealGrid,
    *,
    shape: tuple[int, int] | None = None,
    origin: tuple[int, int] = (0, 0),
    method: str = "auto",
    tolerance: float = 1e-3,
    return_error: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Pixmap of one chip at one pointing onto an :class:`IdealGrid`.

    Parameters
    ----------
    aperture : Aperture or str
        The chip whose pixels are drizzled.
    postarg : (float, float) or Quantity
        The exposure's POS TARG (arcsec) in the prime aperture's ideal frame.
    grid : IdealGrid
        Output grid (its ``prime`` defines the frame).
    shape : (int, int), optional
        ``(ny, nx)`` of the input array (default the whole chip).
    origin : (int, int), optional
        ``(x0, y0)`` of a sub-array within the chip (default (0, 0)).
    method, tolerance, return_error
        As in :func:`~ditherlab.drizzle.pixmap_from_functions` (sparse-grid evaluation with
        its interpolation error bounded by ``tolerance`` output pixels).

    Returns
    -------
    ndarray, shape (ny, nx, 2)
        Output ``(x, y)`` of every input pixel centre (and the interpolation error if
        ``return_error``).

    Examples
    --------
    >>> from ditherlab.planner import get_aperture
    >>> ap = get_aperture("wfc3-ir")
    >>> g = IdealGrid("IIRFIX", 0.06, (2200, 2200), (1100.0, 1100.0))
    >>> pm = pixmap_from_aperture(ap, (0.0, 0.0), g, shape=(3, 3), origin=(505, 505))
    >>> bool(abs(pm[1, 1, 0] - g.reference[0]) < 1e-6)  # the reference pixel at the origin
    True
    """
    from ditherlab.planner.apertures import get_aperture

    if not isinstance(grid, IdealGrid):
        raise DitherlabValueError(f"grid must be an IdealGrid, got {type(grid).__name__}")
    ap = get_aperture(aperture)
    from astropy import units as u

    px, py = as_pair("postarg", postarg, unit=u.arcsec)
    ox, oy = (as_int("origin[0]", origin[0]), as_int("origin[1]", origin[1]))
    if shape is None:
        shape = ap.shape
    ny, nx = as_int("shape[0]", shape[0], minimum=1), as_int("shape[1]", shape[1], minimum=1)
    fy, fx = ap.shape
    if ox < 0 or oy < 0 or ox + nx > fx or oy + ny > fy:
        raise DitherlabValueError(
            f"origin={origin!r} with shape={shape!r} lies outside the {ap.name} chip "
            f"({fx} × {fy} px)"
        )
    to_ideal = aperture_to_ideal(ap, grid.prime)

    def forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, Y = to_ideal(np.asarray(x, float) + ox, np.asarray(y, float) + oy)
        return np.asarray(X) - px, np.asarray(Y) - py

    return pixmap_from_functions(
        forward,
        grid.to_pixel,
        (ny, nx),
        method=method,
        tolerance=tolerance,
        return_error=return_error,
    )
