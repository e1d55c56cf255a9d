"""The sky to observe: point sources, extended sources and a sky background.

Positions live in a tangent plane about the scene centre ``(ra, dec)``: ``x`` is the
standard coordinate ξ (arcsec, positive to the **east**) and ``y`` is η (arcsec, positive
to the **north**); RA/Dec follow by the gnomonic projection.  Fluxes are count rates in
e⁻/s (as measured after the pixel-area correction); a magnitude ``m`` with zero point
``zp`` is ``10 ** (-0.4 (m - zp))`` e⁻/s.  The sky is a surface brightness in
e⁻ s⁻¹ arcsec⁻².

Source kinds: ``"point"`` (rendered with the PSF), ``"gaussian"`` and ``"sersic"``
(elliptical, convolved with the PSF).  Extended sources have a half-light radius
``r_eff`` (arcsec, along the major axis), Sérsic index ``n``, axis ratio ``q`` = b/a and
position angle ``pa`` (degrees east of north, of the major axis).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import gammaincinv

from ditherlab._io import write_with
from ditherlab._validation import as_array, as_float, as_int, as_pair, as_rng
from ditherlab.errors import DitherlabTypeError, DitherlabValueError, FileFormatError
from ditherlab.simulate._geometry import gnomonic, inverse_gnomonic

__all__ = ["KINDS", "Scene", "sersic_profile"]

#: Source kinds a scene can hold.
KINDS: tuple[str, ...] = ("point", "gaussian", "sersic")
_COLUMNS = ("x", "y", "flux", "kind", "r_eff", "n", "q", "pa")


def sersic_profile(r_eff: float, n: float, q: float, pa: float, truncate: float = 8.0):
    """An elliptical Sérsic surface-brightness function ``f(xi, eta)`` (arbitrary scale).

    ``n = 0.5`` is a Gaussian.  The profile is zero beyond ``truncate`` half-light radii
    (along the ellipse); the renderer normalises the flux inside.
    """
    bn = float(gammaincinv(2.0 * n, 0.5))
    t = np.radians(pa)
    c, s = np.cos(t), np.sin(t)

    def f(xi, eta):
        # major axis along the position angle (from north through east)
        u = xi * s + eta * c
        v = -xi * c + eta * s
        r = np.sqrt(u * u + (v / q) ** 2) / r_eff
        return np.where(r <= truncate, np.exp(-bn * (r ** (1.0 / n) - 1.0)), 0.0)

    return f


@dataclasses.dataclass(frozen=True, eq=False)
class Scene:
    """An immutable list of sources on the sky plus a uniform sky background.

    Parameters
    ----------
    ra, dec : float
        Scene centre (deg); the tangent point of the ``x``, ``y`` frame.
    x, y : array_like
        Positions (arcsec): ξ east, η north of the centre.
    flux : array_like
        Count rates (e⁻/s), ≥ 0.
    kind : array_like of str, optional
        ``"point"`` (default), ``"gaussian"`` or ``"sersic"``.
    r_eff, n, q, pa : array_like, optional
        Extended-source shape (ignored for point sources); defaults 0.2″, 1, 1, 0°.
    sky : float, optional
        Sky surface brightness, e⁻ s⁻¹ arcsec⁻² (default 0).
    meta : mapping, optional
        Free-form provenance.

    Examples
    --------
    >>> s = Scene(ra=150.0, dec=2.0, x=[0.0, 1.0], y=[0.0, -1.0], flux=[100.0, 50.0])
    >>> len(s), s.kind.tolist()
    (2, ['point', 'point'])
    >>> ra, dec = s.radec()
    >>> round(float(ra[0]), 6), round(float(dec[0]), 6)
    (150.0, 2.0)
    """

    ra: float
    dec: float
    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    kind: np.ndarray | None = None
    r_eff: np.ndarray | None = None
    n: np.ndarray | None = None
    q: np.ndarray | None = None
    pa: np.ndarray | None = None
    sky: float = 0.0
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        ra = as_float("ra", self.ra, minimum=-360.0, maximum=360.0) % 360.0
        dec = as_float("dec", self.dec, minimum=-90.0, maximum=90.0)
        x = as_array("x", self.x, ndim=1).copy()
        n = x.size

        def col(name: str, value: Any, default: float) -> np.ndarray:
            if value is None:
                return np.full(n, default)
            arr = as_array(
                name,
                np.broadcast_to(np.asarray(value, float), (n,)) if np.ndim(value) == 0 else value,
                ndim=1,
            ).copy()
            if arr.size != n:
                raise DitherlabValueError(f"{name} has {arr.size} entries but x has {n}")
            return arr

        y = col("y", self.y, 0.0)
        flux = col("flux", self.flux, 0.0)
        if np.any(flux < 0):
            i = int(np.argmax(flux < 0))
            raise DitherlabValueError(f"flux must be >= 0; source {i} has flux={float(flux[i])!r}")
        if self.kind is None:
            kind = np.full(n, "point", dtype="<U8")
        else:
            kind = np.asarray(
                [self.kind] * n if isinstance(self.kind, str) else self.kind, dtype=str
            )
            if kind.shape != (n,):
                raise DitherlabValueError(f"kind has shape {kind.shape} but x has {n} entries")
            kind = np.char.lower(kind).astype("<U8")
            bad = ~np.isin(kind, KINDS)
            if bad.any():
                i = int(np.argmax(bad))
                raise DitherlabValueError(
                    f"kind={str(kind[i])!r} (source {i}) is not one of {KINDS}"
                )
        r_eff = col("r_eff", self.r_eff, 0.2)
        sn = col("n", self.n, 1.0)
        q = col("q", self.q, 1.0)
        pa = col("pa", self.pa, 0.0)
        ext = kind != "point"
        if np.any(ext & ~(r_eff > 0)):
            raise DitherlabValueError("r_eff must be > 0 for extended sources")
        if np.any(ext & ((q <= 0) | (q > 1))):
            raise DitherlabValueError("q (axis ratio b/a) must be in (0, 1]")
        if np.any(ext & (kind == "sersic") & ((sn < 0.2) | (sn > 8))):
            raise DitherlabValueError("n (Sérsic index) must be in [0.2, 8]")
        sky = as_float("sky", self.sky, minimum=0.0)
        for name, value in (
            ("ra", ra),
            ("dec", dec),
            ("x", x),
            ("y", y),
            ("flux", flux),
            ("kind", kind),
            ("r_eff", r_eff),
            ("n", sn),
            ("q", q),
            ("pa", pa),
            ("sky", sky),
        ):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __len__(self) -> int:
        return int(self.x.size)

    def __repr__(self) -> str:
        counts = {k: int((self.kind == k).sum()) for k in KINDS}
        parts = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return (
            f"Scene(ra={self.ra:.6f}, dec={self.dec:.6f}, {len(self)} sources"
            f"{': ' + parts if parts else ''}, sky={self.sky:g} e-/s/arcsec2)"
        )

    def replace(self, **changes: Any) -> Scene:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def radec(self) -> tuple[np.ndarray, np.ndarray]:
        """RA and Dec (deg) of every source."""
        return inverse_gnomonic(self.x, self.y, self.ra, self.dec)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def random_field(
        cls,
        n_stars: int = 500,
        *,
        n_galaxies: int = 0,
        size: float | tuple[float, float] = 210.0,
        ra: float = 150.1,
        dec: float = 2.2,
        mag_range: tuple[float, float] = (18.0, 26.0),
        zeropoint: float = 26.0,
        slope: float = 0.3,
        sky: float = 0.0,
        r_eff_range: tuple[float, float] = (0.05, 0.5),
        rng: Any = None,
    ) -> Scene:
        """A random field of stars (and galaxies), uniform in a box, deterministic with ``rng``.

        Parameters
        ----------
        n_stars, n_galaxies : int
            Numbers of point and Sérsic sources.
        size : float or (float, float)
            Box size (arcsec) centred on ``(ra, dec)``.  The default 210″ covers the
            202″ ACS/WFC field when the box is aligned with it; use ~290″ to cover it at
            any orientation.
        ra, dec : float
            Centre (deg).
        mag_range : (float, float)
            Magnitudes are drawn from ``dN/dm ∝ 10**(slope m)`` in this range.
        zeropoint : float
            Magnitude giving 1 e⁻/s.
        sky : float
            Sky, e⁻ s⁻¹ arcsec⁻².
        r_eff_range : (float, float)
            Galaxy half-light radii (arcsec), log-uniform.
        rng : Generator, int or None
            Random state.

        Examples
        --------
        >>> a = Scene.random_field(10, rng=1)
        >>> b = Scene.random_field(10, rng=1)
        >>> bool(np.array_equal(a.x, b.x) and np.array_equal(a.flux, b.flux))
        True
        """
        gen = as_rng(rng)
        ns = as_int("n_stars", n_stars, minimum=0)
        ng = as_int("n_galaxies", n_galaxies, minimum=0)
        wx, wy = as_pair("size", size)
        if wx <= 0 or wy <= 0:
            raise DitherlabValueError(f"size={size!r} must be positive")
        m0, m1 = as_pair("mag_range", mag_range)
        if not m0 < m1:
            raise DitherlabValueError(f"mag_range={mag_range!r} must be increasing")
        slope = as_float("slope", slope)
        zp = as_float("zeropoint", zeropoint)
        n = ns + ng
        x = gen.uniform(-wx / 2, wx / 2, n)
        y = gen.uniform(-wy / 2, wy / 2, n)
        u = gen.random(n)
        if abs(slope) < 1e-12:
            mag = m0 + (m1 - m0) * u
        else:
            a, b = 10 ** (slope * m0), 10 ** (slope * m1)
            mag = np.log10(a + (b - a) * u) / slope
        flux = 10 ** (-0.4 * (mag - zp))
        kind = np.array(["point"] * ns + ["sersic"] * ng)
        r0, r1 = as_pair("r_eff_range", r_eff_range)
        r_eff = np.exp(gen.uniform(np.log(r0), np.log(r1), n))
        sn = gen.uniform(0.5, 4.0, n)
        q = gen.uniform(0.3, 1.0, n)
        pa = gen.uniform(0.0, 180.0, n)
        return cls(
            ra=ra,
            dec=dec,
            x=x,
            y=y,
            flux=flux,
            kind=kind,
            r_eff=r_eff,
            n=sn,
            q=q,
            pa=pa,
            sky=sky,
            meta={"generator": "Scene.random_field", "zeropoint": zp, "mag_range": (m0, m1)},
        )

    @classmethod
    def from_table(
        cls,
        table: Any,
        *,
        ra: float | None = None,
        dec: float | None = None,
        zeropoint: float | None = None,
        sky: float | None = None,
    ) -> Scene:
        """A scene from an :class:`astropy.table.Table` (or anything ``Table()`` accepts).

        Columns: positions as ``x``, ``y`` (arcsec tangent-plane offsets; Quantity
        columns are converted) **or** ``ra``, ``dec`` (deg); brightness as ``flux``
        (e⁻/s) **or** ``mag`` with a zero point (``zeropoint`` argument or table meta
        ``zeropoint``); optional ``kind``, ``r_eff``, ``n``, ``q``, ``pa``.  The centre
        ``ra``/``dec`` and ``sky`` come from the arguments, else the table meta, else (for
        RA/Dec tables) the mean position.

        Raises
        ------
        FileFormatError
            If a needed column is missing or holds bad values.
        """
        from astropy import units as u
        from astropy.table import Table

        try:
            t = table if isinstance(table, Table) else Table(table)
        except Exception as exc:
            raise DitherlabTypeError(f"table cannot be read as a Table: {exc}") from None
        names = {c.lower(): c for c in t.colnames}
        meta = {str(k).lower(): v for k, v in t.meta.items()}

        def get(name: str, unit: Any = None) -> np.ndarray | None:
            if name not in names:
                return None
            c = t[names[name]]
            mask = np.asarray(getattr(c, "mask", False))
            if mask.ndim and mask.any():
                row = int(np.flatnonzero(mask)[0])
                raise FileFormatError(
                    f"column {names[name]!r} has a missing (masked) value in row {row} "
                    f"(0-based; {int(mask.sum())} in all); fill or remove those rows"
                )
            if unit is not None and getattr(c, "unit", None) is not None:
                try:
                    return np.asarray(u.Quantity(c).to_value(unit), float)
                except u.UnitConversionError:
                    raise FileFormatError(
                        f"column {names[name]!r} has unit {c.unit}, not convertible to {unit}"
                    ) from None
            try:
                return np.asarray(c, float)
            except (TypeError, ValueError):
                raise FileFormatError(f"column {names[name]!r} is not numeric") from None

        cra = ra if ra is not None else meta.get("ra")
        cdec = dec if dec is not None else meta.get("dec")
        if "x" in names and "y" in names:
            x, y = get("x", u.arcsec), get("y", u.arcsec)
            if cra is None or cdec is None:
                cra = 0.0 if cra is None else cra
                cdec = 0.0 if cdec is None else cdec
        elif "ra" in names and "dec" in names:
            sra, sdec = get("ra", u.deg), get("dec", u.deg)
            bad = np.flatnonzero(~(np.abs(sdec) <= 90.0) | ~np.isfinite(sra))
            if bad.size:
                i = int(bad[0])
                raise FileFormatError(
                    f"row {i} (0-based) has ra={float(sra[i])!r}, dec={float(sdec[i])!r}: dec "
                    "must be in "
                    "[-90, 90] deg and ra finite"
                )
            if cra is None or cdec is None:
                if sra.size == 0:
                    raise FileFormatError("an empty RA/Dec table needs ra= and dec= for the centre")
                vec = np.array(
                    [
                        np.cos(np.radians(sdec)) * np.cos(np.radians(sra)),
                        np.cos(np.radians(sdec)) * np.sin(np.radians(sra)),
                        np.sin(np.radians(sdec)),
                    ]
                ).mean(axis=1)
                cra = float(np.degrees(np.arctan2(vec[1], vec[0])) % 360.0)
                cdec = float(np.degrees(np.arcsin(vec[2] / np.linalg.norm(vec))))
            x, y = gnomonic(sra, sdec, float(cra), float(cdec))
        else:
            raise FileFormatError(
                f"scene table needs position columns 'x','y' (arcsec) or 'ra','dec' (deg); "
                f"it has {t.colnames}"
            )
        flux = get("flux")
        if flux is None:
            mag = get("mag")
            if mag is None:
                raise FileFormatError(
                    f"scene table needs a 'flux' (e-/s) or a 'mag' column; it has {t.colnames}"
                )
            zp = zeropoint if zeropoint is not None else meta.get("zeropoint")
            if zp is None:
                raise FileFormatError(
                    "scene table has magnitudes but no zero point: pass zeropoint= or set "
                    "the table meta 'zeropoint'"
                )
            zp = as_float("zeropoint", zp)
            flux = 10 ** (-0.4 * (mag - zp))
        for name, arr in (("x", x), ("y", y), ("flux", flux)):
            bad = ~np.isfinite(arr)
            if bad.any():
                i = int(np.argmax(bad))
                raise FileFormatError(
                    f"scene table row {i}: {name} is not finite ({float(arr[i])!r})"
                )
        if np.any(flux < 0):
            i = int(np.argmax(flux < 0))
            raise FileFormatError(f"scene table row {i}: flux={float(flux[i])!r} is negative")
        kind = None
        if "kind" in names:
            kind = np.asarray(t[names["kind"]]).astype(str)
        kw = {k: get(k) for k in ("r_eff", "n", "q", "pa")}
        s = sky if sky is not None else meta.get("sky", 0.0)
        try:
            return cls(
                ra=float(cra),
                dec=float(cdec),
                x=x,
                y=y,
                flux=flux,
                kind=kind,
                sky=s,
                meta={"source": "table"},
                **kw,
            )
        except DitherlabValueError as exc:
            raise FileFormatError(f"scene table: {exc}") from None

    @classmethod
    def read(cls, path: str | os.PathLike[str], **kwargs: Any) -> Scene:
        """Read a scene from an ECSV (or any astropy-readable) table file.

        Keyword arguments go to :meth:`from_table`.
        """
        from astropy.table import Table

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"scene file {str(p)!r} does not exist")
        try:
            t = Table.read(p, format="ascii.ecsv" if p.suffix.lower() == ".ecsv" else None)
        except Exception as exc:
            # astropy may append its whole table of formats: keep the first line
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise FileFormatError(f"scene file {str(p)!r} cannot be read: {why}") from None
        try:
            return cls.from_table(t, **kwargs)
        except FileFormatError as exc:
            raise FileFormatError(f"scene file {str(p)!r}: {exc}") from None

    def to_table(self):
        """The sources as an :class:`astropy.table.Table` with RA/Dec added."""
        from astropy import units as u
        from astropy.table import Table

        ra, dec = self.radec()
        t = Table(
            {
                "x": self.x * u.arcsec,
                "y": self.y * u.arcsec,
                "ra": ra * u.deg,
                "dec": dec * u.deg,
                "flux": self.flux,
                "kind": self.kind,
                "r_eff": self.r_eff * u.arcsec,
                "n": self.n,
                "q": self.q,
                "pa": self.pa * u.deg,
            },
            meta={"ra": self.ra, "dec": self.dec, "sky": self.sky},
        )
        t["flux"].unit = "electron / s"
        return t

    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the scene as ECSV (atomically; refuses to overwrite unless asked)."""
        t = self.to_table()
        return write_with(
            path, lambda tmp: t.write(tmp, format="ascii.ecsv", overwrite=True), overwrite
        )
