"""Dither patterns: the immutable :class:`Pattern` and the sub-pixel pattern families.

A pattern is a list of offsets, one per exposure, in one of two frames:

``"pixel"``
    detector (flt) pixels, x along rows, y along columns, as an observer reads them off
    the image.  Phases (offsets modulo one pixel) are defined in this frame.
``"postarg"``
    POS TARG arcseconds in the aperture's ideal frame, as typed into APT.

Converting between the two needs an aperture and a field position, because geometric
distortion makes one POS TARG a different pixel step at each place on a chip (see
:meth:`ditherlab.planner.Aperture.pixel_offsets`).

The sub-pixel families follow the HST DrizzlePac Handbook, "Selecting the Right Dither
Strategy" (§2.2): two points at half-pixel phase, three along the diagonal at thirds, a
four-point half-pixel box, six = three-point line crossed with a half-pixel step in x,
eight = four-point box crossed with a quarter-pixel step, nine = a 3 × 3 grid of thirds.
Each adds small integer steps so the same sky never lands on the same hot pixel twice.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from ditherlab._validation import as_array, as_choice, as_float, as_int, as_pair
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = [
    "FRAMES",
    "SUBPIXEL_NPOINTS",
    "Pattern",
    "cross",
    "hot_pixel",
    "line",
    "subpixel",
]

Frame = Literal["pixel", "postarg"]
#: The two frames a pattern's offsets can be expressed in.
FRAMES: tuple[str, ...] = ("pixel", "postarg")
#: The point counts :func:`subpixel` builds.
SUBPIXEL_NPOINTS: tuple[int, ...] = (2, 3, 4, 6, 8, 9)

_UNIT = {"pixel": "px", "postarg": "arcsec"}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Pattern:
    """An immutable dither pattern: one (x, y) offset per exposure.

    Parameters
    ----------
    offsets : array_like, shape (N, 2)
        Offsets of each exposure, ``(x, y)``; pixels for ``frame="pixel"``, arcseconds for
        ``frame="postarg"``.  Stored as a read-only float64 array.
    frame : {"pixel", "postarg"}
        The frame of ``offsets``.
    name : str, optional
        A label (e.g. ``"4-point box"`` or ``"ACS-WFC-DITHER-BOX"``).
    meta : mapping, optional
        Free-form provenance: generating parameters, source of a published pattern, etc.
        Not part of equality.

    Examples
    --------
    >>> p = Pattern([[0, 0], [2.5, 2.5]], frame="pixel", name="2-point")
    >>> len(p), p.frame
    (2, 'pixel')
    >>> p.phases().tolist()
    [[0.0, 0.0], [0.5, 0.5]]
    """

    offsets: np.ndarray
    frame: Frame = "pixel"
    name: str = ""
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        offsets = as_array("offsets", self.offsets, shape=(None, 2)).copy()
        if offsets.shape[0] == 0:
            raise DitherlabValueError("offsets must hold at least one point, got shape (0, 2)")
        offsets.setflags(write=False)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "frame", as_choice("frame", self.frame, FRAMES))
        if not isinstance(self.name, str):
            raise DitherlabTypeError(f"name={self.name!r} must be a string")
        if any(ch in self.name for ch in "\n\r\t\x00"):
            raise DitherlabValueError(
                f"name={self.name!r} must not contain line breaks, tabs or NUL characters"
            )
        if not isinstance(self.meta, Mapping):
            raise DitherlabTypeError(f"meta={self.meta!r} must be a mapping (a dict)")
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    # -- container protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def __iter__(self) -> Iterator[tuple[float, float]]:
        for x, y in self.offsets:
            yield float(x), float(y)

    def __getitem__(self, index: int) -> tuple[float, float]:
        x, y = self.offsets[index]
        return float(x), float(y)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return (
            self.frame == other.frame
            and self.name == other.name
            and self.offsets.shape == other.offsets.shape
            and bool(np.array_equal(self.offsets, other.offsets))
        )

    def __hash__(self) -> int:
        return hash((self.frame, self.name, self.offsets.tobytes()))

    # -- derived quantities -------------------------------------------------------------
    @property
    def unit(self) -> str:
        """Unit of the offsets: ``"px"`` or ``"arcsec"``."""
        return _UNIT[self.frame]

    def phases(self) -> np.ndarray:
        """Sub-pixel phases: pixel offsets modulo 1, in ``[0, 1)``, shape (N, 2).

        Only defined in the pixel frame; convert a POS TARG pattern first with
        :meth:`ditherlab.planner.Aperture.pixel_offsets`.
        """
        if self.frame != "pixel":
            raise DitherlabValueError(
                f"phases() needs a pixel-frame pattern, this one has frame={self.frame!r}; "
                "convert it with aperture.pixel_offsets(pattern, at=...)"
            )
        ph = np.mod(self.offsets, 1.0)
        # values within rounding of 1 (e.g. 2/3 * 3 = 1.9999999999999998) wrap to 0
        ph[np.isclose(ph, 1.0, rtol=0.0, atol=1e-9)] = 0.0
        return ph

    def integer_steps(self) -> np.ndarray:
        """Whole-pixel parts of the offsets (``offsets - phases()``), shape (N, 2)."""
        return self.offsets - self.phases()

    def cross(self, secondary: Pattern, name: str | None = None) -> Pattern:
        """Every point of ``secondary`` at each point of this (primary) pattern.

        See :func:`cross`.
        """
        return cross(self, secondary, name=name)

    def centered(self) -> Pattern:
        """The same pattern with the mean offset subtracted (APT ``Center_Pattern=YES``)."""
        return self.replace(offsets=self.offsets - self.offsets.mean(axis=0))

    def replace(self, **changes: Any) -> Pattern:
        """A copy with some fields changed (``offsets``, ``frame``, ``name``, ``meta``)."""
        return dataclasses.replace(self, **changes)

    def to_table(self):
        """The offsets as an :class:`astropy.table.Table` (one row per exposure)."""
        from astropy import units as u
        from astropy.table import Table

        unit = u.pixel if self.frame == "pixel" else u.arcsec
        t = Table(
            {
                "exposure": np.arange(1, len(self) + 1),
                "x": self.offsets[:, 0] * unit,
                "y": self.offsets[:, 1] * unit,
            },
            meta={"name": self.name, "frame": self.frame, **dict(self.meta)},
        )
        if self.frame == "pixel":
            ph = self.phases()
            t["phase_x"] = ph[:, 0]
            t["phase_y"] = ph[:, 1]
        return t

    # -- representations ----------------------------------------------------------------
    def __repr__(self) -> str:
        pts = ", ".join(f"({x:.4g}, {y:.4g})" for x, y in self)
        label = f"{self.name!r}, " if self.name else ""
        return f"Pattern({label}frame={self.frame!r}, {len(self)} points [{self.unit}]: {pts})"

    def _repr_html_(self) -> str:
        head = "<th>#</th><th>x</th><th>y</th>"
        pixel = self.frame == "pixel"
        if pixel:
            head += "<th>phase x</th><th>phase y</th>"
            ph = self.phases()
        rows = []
        for i, (x, y) in enumerate(self):
            cells = f"<td>{i + 1}</td><td>{x:.4f}</td><td>{y:.4f}</td>"
            if pixel:
                cells += f"<td>{ph[i, 0]:.3f}</td><td>{ph[i, 1]:.3f}</td>"
            rows.append(f"<tr>{cells}</tr>")
        title = html.escape(self.name or "Pattern")
        return (
            f"<p><b>{title}</b> — {len(self)} points, frame {self.frame} ({self.unit})</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )


def cross(primary: Pattern, secondary: Pattern, name: str | None = None) -> Pattern:
    """Cross two patterns: every ``secondary`` point at each ``primary`` point.

    The result has ``len(primary) * len(secondary)`` points, ordered primary-major
    (all secondary points at primary point 1, then at point 2, ...), as APT executes a
    pattern nested inside another.  Both must be in the same frame.

    Examples
    --------
    >>> box = subpixel(4, step=(0, 0))
    >>> quarter = Pattern([[0, 0], [0.25, 0.25]])
    >>> len(cross(box, quarter))
    8
    """
    if not isinstance(primary, Pattern) or not isinstance(secondary, Pattern):
        raise DitherlabTypeError("cross() takes two Pattern objects")
    if primary.frame != secondary.frame:
        raise DitherlabValueError(
            f"cannot cross a {primary.frame!r} pattern with a {secondary.frame!r} pattern; "
            "convert one of them first"
        )
    offs = (primary.offsets[:, None, :] + secondary.offsets[None, :, :]).reshape(-1, 2)
    if name is None:
        name = f"{primary.name or 'primary'} × {secondary.name or 'secondary'}"
    return Pattern(
        offs,
        frame=primary.frame,
        name=name,
        meta={"primary": primary.name, "secondary": secondary.name},
    )


def _whole_pair(name: str, value: Any) -> tuple[float, float]:
    """A finite ``(x, y)`` pair of whole pixels (a scalar is used for both)."""
    x, y = as_pair(name, value)
    if not (x.is_integer() and y.is_integer()):
        raise DitherlabValueError(
            f"{name}={value!r} must be whole pixels: the family fixes the sub-pixel phases "
            "and the step only adds whole pixels; for other phases build a "
            "Pattern(offsets) directly"
        )
    return x, y


def _diagonal(n: int, step: tuple[float, float], phase: Fraction) -> np.ndarray:
    """Points k·(step + phase·(1, 1)), k = 0..n-1."""
    k = np.arange(n, dtype=float)[:, None]
    return k * (np.asarray(step, dtype=float) + float(phase))


def subpixel(
    npoints: int,
    step: Sequence[float] | float = (3, 3),
    secondary_step: Sequence[float] | float = (1, 1),
) -> Pattern:
    """A sub-pixel dither pattern in detector pixels, after the DrizzlePac Handbook §2.2.

    Each family combines sub-pixel phases with whole-pixel steps ``step = (n, m)`` so that
    hot pixels and other fixed defects fall on different sky in each exposure:

    ====  ===============================================================  ================
    N     offsets                                                          phases
    ====  ===============================================================  ================
    2     (0, 0), (n+½, m+½)                                               half-pixel diag.
    3     k·(n+⅓, m+⅓), k = 0, 1, 2                                        diagonal thirds
    4     (0, 0), (0, m+½), (n+½, m+½), (n+½, 0)                           half-pixel box
    6     3-point line × (0, 0), (a+½, 0)                                  thirds × ½ in x
    8     4-point box × (0, 0), (a+¼, b+¼)                                 box × quarter
    9     3-point line × (0, 0), (0, b+⅓), (0, 2b+⅔)                        3 × 3 grid
    ====  ===============================================================  ================

    where ``secondary_step = (a, b)`` are the whole-pixel parts of the secondary (crossed)
    pattern.  The six-point secondary runs along x, as the handbook recommends for WFC3/IR
    whose pixels are longer in x.

    Parameters
    ----------
    npoints : {2, 3, 4, 6, 8, 9}
        Number of exposures.
    step : (n, m) or scalar, optional
        Whole-pixel parts of the primary steps (default (3, 3), enough to move a source
        off a hot pixel and its charge-diffusion halo).  Any finite number is accepted;
        non-integer values shift the phases and are reported by :meth:`Pattern.phases`.
    secondary_step : (a, b) or scalar, optional
        Whole-pixel parts of the secondary steps for N = 6, 8, 9 (default (1, 1)).

    Returns
    -------
    Pattern
        Offsets in the ``"pixel"`` frame, starting at (0, 0).

    Raises
    ------
    DitherlabValueError
        If ``npoints`` is not one of 2, 3, 4, 6, 8, 9, or a step is not a whole number of
        pixels.

    References
    ----------
    HST DrizzlePac Handbook, §2.2 "Selecting the Right Dither Strategy".

    Examples
    --------
    >>> subpixel(4, step=(2, 1)).offsets.tolist()
    [[0.0, 0.0], [0.0, 1.5], [2.5, 1.5], [2.5, 0.0]]
    >>> sorted(map(tuple, subpixel(9).phases().round(3).tolist()))[:3]
    [(0.0, 0.0), (0.0, 0.333), (0.0, 0.667)]
    """
    n = as_int("npoints", npoints, choices=SUBPIXEL_NPOINTS)
    n_, m_ = _whole_pair("step", step)
    a_, b_ = _whole_pair("secondary_step", secondary_step)
    meta = {"family": "subpixel", "npoints": n, "step": (n_, m_)}
    if n == 2:
        offs = _diagonal(2, (n_, m_), Fraction(1, 2))
        return Pattern(offs, name="2-point sub-pixel", meta=meta)
    if n == 3:
        return Pattern(_diagonal(3, (n_, m_), Fraction(1, 3)), name="3-point sub-pixel", meta=meta)
    if n == 4:
        return Pattern(_box(n_, m_), name="4-point box", meta=meta)
    meta["secondary_step"] = (a_, b_)
    if n == 6:
        primary = Pattern(_diagonal(3, (n_, m_), Fraction(1, 3)), name="3-point line")
        secondary = Pattern([[0.0, 0.0], [a_ + 0.5, 0.0]], name="2-point x half-pixel")
        return cross(primary, secondary, name="6-point sub-pixel").replace(meta=meta)
    if n == 8:
        primary = Pattern(_box(n_, m_), name="4-point box")
        secondary = Pattern([[0.0, 0.0], [a_ + 0.25, b_ + 0.25]], name="2-point quarter")
        return cross(primary, secondary, name="8-point sub-pixel").replace(meta=meta)
    # n == 9
    primary = Pattern(_diagonal(3, (n_, m_), Fraction(1, 3)), name="3-point line")
    secondary = Pattern(_diagonal(3, (0.0, b_), Fraction(1, 3)) * [0.0, 1.0], name="3-point y")
    return cross(primary, secondary, name="9-point sub-pixel").replace(meta=meta)


def _box(n: float, m: float) -> np.ndarray:
    return np.array([[0.0, 0.0], [0.0, m + 0.5], [n + 0.5, m + 0.5], [n + 0.5, 0.0]])


def line(
    npoints: int,
    step: float = 3,
    axis: Literal["x", "y"] = "y",
) -> Pattern:
    """A one-axis sub-pixel line: ``k·(step + 1/npoints)`` along ``axis``.

    The two-point case, (0, 0) and (0, n+½), is the STIS long-slit dither that sub-samples
    along the slit.

    Parameters
    ----------
    npoints : int
        Number of exposures, 2 to 20.
    step : float, optional
        Whole-pixel part of each step (default 3); must be a whole number, the phase
        step ``1/npoints`` is added to it.
    axis : {"x", "y"}, optional
        Direction of the line (default ``"y"``, along a long slit).

    Examples
    --------
    >>> line(2, step=4).offsets.tolist()
    [[0.0, 0.0], [0.0, 4.5]]
    """
    n = as_int("npoints", npoints, minimum=2, maximum=20)
    s = as_float("step", step)
    if not s.is_integer():
        raise DitherlabValueError(
            f"step={step!r} must be whole pixels (the phase step 1/npoints is added to it)"
        )
    ax = as_choice("axis", axis, ("x", "y"))
    k = np.arange(n, dtype=float) * (s + 1.0 / n)
    offs = np.zeros((n, 2))
    offs[:, 0 if ax == "x" else 1] = k
    return Pattern(
        offs,
        name=f"{n}-point line ({ax})",
        meta={"family": "line", "npoints": n, "step": s, "axis": ax},
    )


def hot_pixel(
    npoints: int = 2,
    step: Sequence[float] | float = (2, 2),
    shape: Literal["line", "box"] = "line",
) -> Pattern:
    """An integer-pixel dither that moves every source off fixed defects (hot pixels).

    No sub-pixel phase is added: use it when resolution is not the goal but hot pixels,
    bad columns and (with a large ``step``) chip gaps must be cleared.

    Parameters
    ----------
    npoints : int, optional
        Number of exposures (2 to 20 for a line, 4 for a box); default 2.
    step : (n, m) or int, optional
        Whole-pixel step, default (2, 2).  Must be integers.
    shape : {"line", "box"}, optional
        ``"line"``: points k·(n, m).  ``"box"``: (0,0), (0,m), (n,m), (n,0).

    Examples
    --------
    >>> hot_pixel(3, step=(2, 1)).offsets.tolist()
    [[0.0, 0.0], [2.0, 1.0], [4.0, 2.0]]
    """
    kind = as_choice("shape", shape, ("line", "box"))
    n_, m_ = as_pair("step", step)
    if not (float(n_).is_integer() and float(m_).is_integer()):
        raise DitherlabValueError(f"step={step!r} must be whole pixels for a hot-pixel dither")
    if kind == "box":
        n = as_int("npoints", npoints, choices=(4,))
        offs = np.array([[0.0, 0.0], [0.0, m_], [n_, m_], [n_, 0.0]])
    else:
        n = as_int("npoints", npoints, minimum=2, maximum=20)
        offs = np.arange(n, dtype=float)[:, None] * np.array([n_, m_])
    return Pattern(
        offs,
        name=f"{n}-point hot-pixel {kind}",
        meta={"family": "hot_pixel", "npoints": n, "step": (n_, m_), "shape": kind},
    )
