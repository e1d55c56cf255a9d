"""A small stand-in for ditherlab.planner.Aperture (same method names), used only to test
the renderer against a geometry whose every number is known."""

import numpy as np


class FakeAperture:
    def __init__(
        self,
        name,
        chip,
        shape,
        ref,
        poly_x,
        poly_y,
        v2_ref,
        v3_ref,
        yangle,
        instrument="ACS",
        detector="WFC",
        chips=None,
    ):
        self.name = name
        self.instrument = instrument
        self.detector = detector
        self.chip = chip
        self.shape = shape
        self.reference_pixel = ref
        self.poly_x = np.asarray(poly_x, float)
        self.poly_y = np.asarray(poly_y, float)
        self.v2_ref = v2_ref
        self.v3_ref = v3_ref
        self.v3_idl_yangle = yangle
        self.vidl_parity = -1
        self._chips = chips
        self.pixel_scale = (self.poly_x[1, 0], self.poly_y[0, 1])

    @property
    def chips(self):
        return self._chips if self._chips is not None else (self,)

    def _poly(self, c, dx, dy):
        out = np.zeros(np.broadcast(dx, dy).shape)
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                out = out + c[i, j] * dx**i * dy**j
        return out

    def sci_to_postarg(self, x, y):
        dx = np.asarray(x, float) - self.reference_pixel[0]
        dy = np.asarray(y, float) - self.reference_pixel[1]
        return self._poly(self.poly_x, dx, dy), self._poly(self.poly_y, dx, dy)

    def postarg_to_sci(self, X, Y):
        X = np.asarray(X, float)
        Y = np.asarray(Y, float)
        lin = np.array(
            [[self.poly_x[1, 0], self.poly_x[0, 1]], [self.poly_y[1, 0], self.poly_y[0, 1]]]
        )
        inv = np.linalg.inv(lin)
        x = (
            self.reference_pixel[0]
            + inv[0, 0] * (X - self.poly_x[0, 0])
            + inv[0, 1] * (Y - self.poly_y[0, 0])
        )
        y = (
            self.reference_pixel[1]
            + inv[1, 0] * (X - self.poly_x[0, 0])
            + inv[1, 1] * (Y - self.poly_y[0, 0])
        )
        for _ in range(30):
            Xc, Yc = self.sci_to_postarg(x, y)
            h = 1e-3
            xa, ya = self.sci_to_postarg(x + h, y)
            xb, yb = self.sci_to_postarg(x, y + h)
            a, b = (xa - Xc) / h, (xb - Xc) / h
            c, d = (ya - Yc) / h, (yb - Yc) / h
            det = a * d - b * c
            ex, ey = X - Xc, Y - Yc
            x = x + (d * ex - b * ey) / det
            y = y + (-c * ex + a * ey) / det
        return x, y

    def idl_to_tel(self, X, Y):
        t = np.radians(self.v3_idl_yangle)
        p = self.vidl_parity
        X = np.asarray(X, float)
        Y = np.asarray(Y, float)
        return (
            self.v2_ref + p * X * np.cos(t) + Y * np.sin(t),
            self.v3_ref - p * X * np.sin(t) + Y * np.cos(t),
        )

    def tel_to_idl(self, v2, v3):
        t = np.radians(self.v3_idl_yangle)
        p = self.vidl_parity
        d2 = np.asarray(v2, float) - self.v2_ref
        d3 = np.asarray(v3, float) - self.v3_ref
        return p * (d2 * np.cos(t) - d3 * np.sin(t)), d2 * np.sin(t) + d3 * np.cos(t)

    def sci_to_tel(self, x, y):
        return self.idl_to_tel(*self.sci_to_postarg(x, y))

    def tel_to_sci(self, v2, v3):
        return self.postarg_to_sci(*self.tel_to_idl(v2, v3))

    def contains(self, x, y):
        ny, nx = self.shape
        x = np.asarray(x)
        y = np.asarray(y)
        return (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)


def _poly(lin, quad=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)):
    px = np.zeros((5, 5))
    py = np.zeros((5, 5))
    px[1, 0], px[0, 1] = lin[0]
    py[1, 0], py[0, 1] = lin[1]
    px[2, 0], px[1, 1], px[0, 2], py[2, 0], py[1, 1], py[0, 2] = quad
    return px, py


def fake_wfc(nx=400, ny=300, distortion=True):
    """A two-chip ACS/WFC-like camera, small chips, JWFC1FIX/JWFC2FIX linear terms."""
    q = (2e-7, -1e-7, 1.5e-7, 1e-7, 2.5e-7, -1e-7) if distortion else (0,) * 6
    px1, py1 = _poly([(0.049072, 0.0), (0.004420, 0.048636)], q)
    px2, py2 = _poly([(0.049733, 0.0), (0.003430, 0.050313)], q)
    gap_arcsec = ny * 0.05 + 2.5
    wfc1 = FakeAperture(
        "FAKEWFC1", 1, (ny, nx), ((nx - 1) / 2, (ny - 1) / 2), px1, py1, 261.647, 198.665, 177.3297
    )
    wfc2 = FakeAperture(
        "FAKEWFC2",
        2,
        (ny, nx),
        ((nx - 1) / 2, (ny - 1) / 2),
        px2,
        py2,
        261.647 + 4.2,
        198.665 + gap_arcsec,
        177.7655,
    )
    chips = (wfc2, wfc1)
    wfc1._chips = chips
    wfc2._chips = chips
    return wfc1
