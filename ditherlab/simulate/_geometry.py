"""Pointing geometry: telescope attitude, tangent-plane projections, per-chip TAN-SIP maps.

The model (stated once, used for both rendering and the written WCS):

1. Science pixel ``(x, y)`` of a chip → the chip's ideal frame ``(X, Y)`` (arcsec) by the
   aperture's degree-4 SIAF polynomial about its reference pixel.
2. Ideal → telescope ``(V2, V3)`` by the SIAF rotation ``V3IdlYAngle`` with parity
   ``VIdlParity`` (linear; ``Aperture.idl_to_tel``).
3. ``(V2, V3)`` → sky by the HST attitude matrix ``attitude(v2, v3, ra, dec, pa_v3)`` (as in
   pysiaf ``utils.rotations``).  Near each chip's reference point this is replaced by its
   tangent: a gnomonic (TAN) projection about the sky position of the chip's reference
   pixel, whose linear part is the exact derivative of the attitude mapping there.

With step 3 linearised about the reference point, pixel → sky is *exactly* a TAN-SIP
WCS: CRPIX is the reference pixel, CD is the linear part, and the SIP A/B polynomials
are the non-linear part of the SIAF polynomial (same order, 4).  The rendering uses the
same map, so the written WCS describes the simulated pixels exactly.  The difference
between the linearised and the spherical step 3 is below 0.1 mas over a 200″ field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0

__all__ = [
    "ChipMap",
    "attitude",
    "gnomonic",
    "inverse_gnomonic",
    "poly_eval",
    "poly_jacobian",
    "sky_to_v2v3",
    "v2v3_to_sky",
]


def _rotate(axis: int, angle_deg: float) -> np.ndarray:
    """Right-handed rotation about axis 1, 2 or 3 (pysiaf ``rotations.rotate``)."""
    r = np.zeros((3, 3))
    a0 = axis - 1
    t = np.radians(angle_deg)
    r[a0, a0] = 1.0
    a1, a2 = (a0 + 1) % 3, (a0 + 2) % 3
    r[a1, a1] = r[a2, a2] = np.cos(t)
    r[a1, a2] = -np.sin(t)
    r[a2, a1] = np.sin(t)
    return r


def attitude(v2: float, v3: float, ra: float, dec: float, pa: float) -> np.ndarray:
    """Attitude matrix taking the telescope direction ``(v2, v3)`` (arcsec) to ``(ra, dec)``.

    ``pa`` is the position angle of the V3 axis (degrees east of north) at that point.
    Same construction as pysiaf ``utils.rotations.attitude``.

    Examples
    --------
    >>> m = attitude(0.0, 0.0, 10.0, 20.0, 0.0)
    >>> np.round(v2v3_to_sky(m, 0.0, 0.0), 12).tolist()
    [10.0, 20.0]
    """
    return (
        _rotate(3, ra)
        @ _rotate(2, -dec)
        @ _rotate(1, -pa)
        @ _rotate(2, v3 / 3600.0)
        @ _rotate(3, -v2 / 3600.0)
    )


def _unit(lon_deg: Any, lat_deg: Any) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.array([np.cos(lon) * np.cos(lat), np.sin(lon) * np.cos(lat), np.sin(lat)])


def _lonlat(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(u[1], u[0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(u[2] / np.sqrt((u * u).sum(axis=0)), -1.0, 1.0)))
    return lon, lat


def v2v3_to_sky(m: np.ndarray, v2: Any, v3: Any) -> np.ndarray:
    """Sky ``(ra, dec)`` in degrees of telescope ``(v2, v3)`` (arcsec), stacked on axis 0."""
    u = _unit(np.asarray(v2, float) / 3600.0, np.asarray(v3, float) / 3600.0)
    ra, dec = _lonlat(np.tensordot(m, u, axes=1))
    return np.array([ra, dec])


def sky_to_v2v3(m: np.ndarray, ra: Any, dec: Any) -> np.ndarray:
    """Telescope ``(v2, v3)`` in arcsec of sky ``(ra, dec)`` (degrees)."""
    u = _unit(ra, dec)
    lon, lat = _lonlat(np.tensordot(m.T, u, axes=1))
    lon = (lon + 180.0) % 360.0 - 180.0
    return np.array([lon * 3600.0, lat * 3600.0])


def gnomonic(ra: Any, dec: Any, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Standard coordinates ``(xi, eta)`` in arcsec (xi east, eta north) about ``(ra0, dec0)``.

    Examples
    --------
    >>> xi, eta = gnomonic(10.0, 20.0 + 1 / 3600, 10.0, 20.0)
    >>> round(float(xi), 9), round(float(eta), 6)
    (0.0, 1.0)
    """
    a = np.radians(np.asarray(ra, float) - ra0)
    d = np.radians(np.asarray(dec, float))
    d0 = np.radians(dec0)
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a)
    xi = np.cos(d) * np.sin(a) / cosc
    eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a)) / cosc
    return xi * ARCSEC_PER_RAD, eta * ARCSEC_PER_RAD


def inverse_gnomonic(xi: Any, eta: Any, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Sky ``(ra, dec)`` in degrees of standard coordinates ``(xi, eta)`` (arcsec)."""
    x = np.asarray(xi, float) / ARCSEC_PER_RAD
    y = np.asarray(eta, float) / ARCSEC_PER_RAD
    d0 = np.radians(dec0)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = np.where(
            rho > 0,
            np.arcsin(
                np.cos(c) * np.sin(d0) + y * np.sin(c) * np.cos(d0) / np.where(rho > 0, rho, 1)
            ),
            d0,
        )
    ra = ra0 + np.degrees(
        np.arctan2(x * np.sin(c), rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    )
    ra = np.where(rho > 0, ra, ra0) % 360.0
    return ra, np.degrees(dec)


def poly_eval(c: np.ndarray, dx: Any, dy: Any) -> np.ndarray:
    """Evaluate ``sum C[i, j] dx**i dy**j``."""
    dx = np.asarray(dx, float)
    dy = np.asarray(dy, float)
    out = np.zeros(np.broadcast(dx, dy).shape)
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            if c[i, j] != 0.0:
                out = out + c[i, j] * dx**i * dy**j
    return out


def poly_jacobian(cx: np.ndarray, cy: np.ndarray, dx: Any, dy: Any) -> np.ndarray:
    """Jacobian ``d(X, Y)/d(x, y)`` of a polynomial pair, shape ``(..., 2, 2)``."""
    dx = np.asarray(dx, float)
    dy = np.asarray(dy, float)
    shape = np.broadcast(dx, dy).shape
    jac = np.zeros((*shape, 2, 2))
    for k, c in enumerate((cx, cy)):
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                if c[i, j] == 0.0:
                    continue
                if i > 0:
                    jac[..., k, 0] += c[i, j] * i * dx ** (i - 1) * dy**j
                if j > 0:
                    jac[..., k, 1] += c[i, j] * j * dx**i * dy ** (j - 1)
    return jac


def _square(c: np.ndarray, order: int) -> np.ndarray:
    out = np.zeros((order + 1, order + 1))
    n = min(c.shape[0], order + 1)
    m = min(c.shape[1], order + 1)
    out[:n, :m] = c[:n, :m]
    return out


def linear_part(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """The linear part ``d(X, Y)/d(x, y)`` at the reference of a polynomial pair."""
    cx = np.asarray(cx, float)
    cy = np.asarray(cy, float)
    return np.array([[cx[1, 0], cx[0, 1]], [cy[1, 0], cy[0, 1]]])


@dataclasses.dataclass(frozen=True, eq=False)
class ChipMap:
    """Pixel ↔ sky map of one chip in one pointing (see the module docstring).

    Attributes
    ----------
    aperture : Aperture
        The chip's full-chip aperture.
    crval : (float, float)
        Sky position (deg) of the chip's reference pixel.
    lin : ndarray, shape (2, 2)
        Ideal-frame offset (arcsec) → standard coordinates (xi east, eta north; arcsec).
    """

    aperture: Any
    crval: tuple[float, float]
    lin: np.ndarray

    @classmethod
    def from_attitude(cls, aperture: Any, att: np.ndarray) -> ChipMap:
        """Build the map of ``aperture`` for the telescope attitude matrix ``att``."""
        xr, yr = aperture.reference_pixel
        v2r, v3r = (float(v) for v in aperture.sci_to_tel(xr, yr))
        ra0, dec0 = (float(v) for v in v2v3_to_sky(att, v2r, v3r))
        h = 1.0  # arcsec; central differences, error ~ (h / 206265)**2
        cols = []
        for dv2, dv3 in ((h, 0.0), (0.0, h)):
            p = v2v3_to_sky(att, v2r + dv2, v3r + dv3)
            m = v2v3_to_sky(att, v2r - dv2, v3r - dv3)
            xp = np.array(gnomonic(p[0], p[1], ra0, dec0))
            xm = np.array(gnomonic(m[0], m[1], ra0, dec0))
            cols.append((xp - xm) / (2 * h))
        d_sky_d_tel = np.column_stack(cols)
        t0 = np.array(aperture.idl_to_tel(0.0, 0.0), float)
        tx = np.array(aperture.idl_to_tel(1.0, 0.0), float) - t0
        ty = np.array(aperture.idl_to_tel(0.0, 1.0), float) - t0
        d_tel_d_idl = np.column_stack([tx, ty])
        return cls(aperture, (ra0, dec0), d_sky_d_tel @ d_tel_d_idl)

    # -- polynomial pieces ------------------------------------------------------------
    @property
    def ref(self) -> tuple[float, float]:
        """Reference pixel (0-based)."""
        x, y = self.aperture.reference_pixel
        return float(x), float(y)

    @property
    def idl_ref(self) -> np.ndarray:
        """Ideal coordinates of the reference pixel (the polynomials' constant terms)."""
        return np.array([self.aperture.poly_x[0, 0], self.aperture.poly_y[0, 0]], float)

    def pixel_to_std(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Standard coordinates (arcsec about ``crval``) of chip pixels."""
        xr, yr = self.ref
        dx = np.asarray(x, float) - xr
        dy = np.asarray(y, float) - yr
        X = poly_eval(np.asarray(self.aperture.poly_x, float), dx, dy) - self.idl_ref[0]
        Y = poly_eval(np.asarray(self.aperture.poly_y, float), dx, dy) - self.idl_ref[1]
        L = self.lin
        return L[0, 0] * X + L[0, 1] * Y, L[1, 0] * X + L[1, 1] * Y

    def pixel_to_sky(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Sky ``(ra, dec)`` in degrees of chip pixels (0-based)."""
        xi, eta = self.pixel_to_std(x, y)
        return inverse_gnomonic(xi, eta, *self.crval)

    def sky_to_pixel(self, ra: Any, dec: Any) -> tuple[np.ndarray, np.ndarray]:
        """Chip pixels (0-based, may lie off the chip) of sky positions."""
        xi, eta = gnomonic(ra, dec, *self.crval)
        inv = np.linalg.inv(self.lin)
        X = np.asarray(inv[0, 0] * xi + inv[0, 1] * eta + self.idl_ref[0], float)
        Y = np.asarray(inv[1, 0] * xi + inv[1, 1] * eta + self.idl_ref[1], float)
        # the polynomial is only invertible near the chip: points whose linear estimate
        # lies farther than a quarter chip outside it get NaN instead of a Newton failure
        li = np.linalg.inv(linear_part(self.aperture.poly_x, self.aperture.poly_y))
        dX, dY = X - self.idl_ref[0], Y - self.idl_ref[1]
        xr, yr = self.ref
        xl = xr + li[0, 0] * dX + li[0, 1] * dY
        yl = yr + li[1, 0] * dX + li[1, 1] * dY
        ny, nx = (int(v) for v in self.aperture.shape)
        m = 0.25 * max(nx, ny)
        ok = (xl > -m) & (xl < nx + m) & (yl > -m) & (yl < ny + m)
        x = np.full(X.shape, np.nan)
        y = np.full(X.shape, np.nan)
        if np.any(ok):
            xs, ys = self.aperture.postarg_to_sci(X[ok], Y[ok])
            x[ok] = xs
            y[ok] = ys
        return x, y

    def jacobian(self, x: Any, y: Any) -> np.ndarray:
        """``d(xi, eta)/d(x, y)`` in arcsec per pixel, shape ``(..., 2, 2)``."""
        xr, yr = self.ref
        jp = poly_jacobian(
            np.asarray(self.aperture.poly_x, float),
            np.asarray(self.aperture.poly_y, float),
            np.asarray(x, float) - xr,
            np.asarray(y, float) - yr,
        )
        return self.lin @ jp

    # -- FITS WCS ---------------------------------------------------------------------
    def wcs_cards(self, origin: tuple[int, int] = (0, 0), order: int = 4) -> dict[str, Any]:
        """TAN-SIP WCS keywords reproducing :meth:`pixel_to_sky` exactly.

        ``origin`` is the full-chip pixel of the cut-out's first pixel (sub-arrays).
        """
        cx = _square(np.asarray(self.aperture.poly_x, float), order)
        cy = _square(np.asarray(self.aperture.poly_y, float), order)
        lin = linear_part(cx, cy)
        cd = self.lin @ lin / 3600.0
        inv = np.linalg.inv(lin)
        nlx = cx.copy()
        nly = cy.copy()
        for c in (nlx, nly):
            c[0, 0] = c[1, 0] = c[0, 1] = 0.0
        a = inv[0, 0] * nlx + inv[0, 1] * nly
        b = inv[1, 0] * nlx + inv[1, 1] * nly
        xr, yr = self.ref
        cards: dict[str, Any] = {
            "WCSAXES": 2,
            "CTYPE1": "RA---TAN-SIP",
            "CTYPE2": "DEC--TAN-SIP",
            "CUNIT1": "deg",
            "CUNIT2": "deg",
            "CRPIX1": xr + 1.0 - origin[0],
            "CRPIX2": yr + 1.0 - origin[1],
            "CRVAL1": self.crval[0],
            "CRVAL2": self.crval[1],
            "CD1_1": cd[0, 0],
            "CD1_2": cd[0, 1],
            "CD2_1": cd[1, 0],
            "CD2_2": cd[1, 1],
            "A_ORDER": order,
            "B_ORDER": order,
        }
        for name, c in (("A", a), ("B", b)):
            for i in range(order + 1):
                for j in range(order + 1 - i):
                    if i + j >= 2:
                        cards[f"{name}_{i}_{j}"] = float(c[i, j])
        return cards

    def orientat(self) -> float:
        """Position angle (deg, east of north) of the chip's +y pixel axis at its reference."""
        j = self.jacobian(*self.ref)
        return float(np.degrees(np.arctan2(j[0, 1], j[1, 1])) % 360.0)
