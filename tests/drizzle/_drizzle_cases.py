"""Shared helpers for the drizzle tests (pixmaps with rotation, scale, shift, distortion)."""

import numpy as np


def make_pixmap(
    shape, *, angle=0.0, scale=1.0, shift=(0.0, 0.0), quad=0.0, origin=None, margin=3.0
):
    """Pixmap: rotate by ``angle`` degrees, output pixel size ``scale`` input pixels.

    ``quad`` adds a quadratic distortion of about ``quad`` output pixels at the corners.
    ``origin`` is the output position of the input centre (default: keeps it inside).
    """
    ny, nx = shape
    y, x = np.indices(shape, dtype=float)
    xc, yc = (nx - 1) / 2, (ny - 1) / 2
    u, v = x - xc, y - yc
    r2 = (u * u + v * v) / (xc * xc + yc * yc + 1e-9)
    u2 = u + quad * r2 * u / (abs(xc) + 1e-9) * 0.5
    v2 = v + quad * r2 * v / (abs(yc) + 1e-9) * 0.5
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    X = (c * u2 - s * v2) / scale
    Y = (s * u2 + c * v2) / scale
    if origin is None:
        origin = (np.abs(X).max() + margin, np.abs(Y).max() + margin)
    return np.dstack([X + origin[0] + shift[0], Y + origin[1] + shift[1]])


def out_shape_for(pixmap, margin=3):
    """An output shape that contains the whole pixmap with a margin."""
    return (
        int(np.ceil(np.nanmax(pixmap[..., 1]))) + margin,
        int(np.ceil(np.nanmax(pixmap[..., 0]))) + margin,
    )


def noisy_inputs(shape, seed):
    """float32 data (2 % NaN) and weights in [0.5, 2] (10 % zero), fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    data = rng.normal(5, 1, shape).astype(np.float32)
    data[rng.uniform(size=shape) < 0.02] = np.nan
    weight = rng.uniform(0.5, 2, shape).astype(np.float32)
    weight[rng.uniform(size=shape) < 0.1] = 0.0
    return data, weight
