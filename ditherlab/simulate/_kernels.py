"""Pure array kernels of the simulator: no I/O, no units, no validation.

* :func:`render_profile` — integrate a surface-brightness profile over the pixels of a
  stamp, through a local linear map (the Jacobian of the distortion at the source).
* :func:`render_convolved` — the same for an extended source convolved with a PSF.
* :func:`add_stamp` — add a stamp into an image, clipped at the image edges.
* :func:`cosmic_ray_image` — cosmic-ray tracks with Landau-like charge and diffusion.
* :func:`mean_pixels_per_event` — calibration of the CR footprint size (cached).

Positions follow the package convention: 0-based, integer = pixel centre, arrays
``[y, x]``, positions ``(x, y)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import erf

__all__ = [
    "add_stamp",
    "apply_pixel_kernel",
    "cosmic_ray_image",
    "mean_pixels_per_event",
    "render_convolved",
    "render_far",
    "render_profile",
]

Profile = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sample_offsets(half: int, os: int, frac: float) -> np.ndarray:
    """Offsets (pixels) from the source of the ``os`` sub-samples of each stamp pixel."""
    sub = (np.arange(os) + 0.5) / os - 0.5
    return (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel() - frac


def _sample(profile: Profile, jac: np.ndarray, half: int, os: int, fx: float, fy: float):
    u = _sample_offsets(half, os, fx)
    v = _sample_offsets(half, os, fy)
    out = np.empty((v.size, u.size))
    rows = max(1, 2**21 // u.size)  # blocks of rows bound the temporaries' memory
    for a in range(0, v.size, rows):
        U, V = np.meshgrid(u, v[a : a + rows])  # [y, x]
        xi = jac[0, 0] * U + jac[0, 1] * V
        eta = jac[1, 0] * U + jac[1, 1] * V
        out[a : a + rows] = profile(xi, eta)
    return out


def _bin(samples: np.ndarray, os: int) -> np.ndarray:
    n = samples.shape[0] // os
    return samples.reshape(n, os, n, os).sum(axis=(1, 3))


def render_profile(
    profile: Profile,
    jac: np.ndarray,
    frac: tuple[float, float],
    half: int,
    os: int = 8,
    core_half: int = 3,
    os_outer: int = 4,
) -> np.ndarray:
    """Pixel-integrated stamp of a profile, normalised to unit sum.

    Parameters
    ----------
    profile : callable
        ``profile(xi, eta)``: surface brightness at sky offsets (arcsec) from the source.
    jac : ndarray, shape (2, 2)
        ``d(xi, eta)/d(x, y)`` (arcsec per pixel) at the source: the local linear part of
        the distortion, taken as exact over the stamp.
    frac : (float, float)
        Offset ``(fx, fy)`` of the source from the stamp's central pixel, in ``[-0.5, 0.5]``.
    half : int
        Stamp half-size: the stamp is ``(2 half + 1)`` pixels square.
    os : int
        Sub-samples per pixel per axis in the core (``|offset| <= core_half`` pixels).
    core_half, os_outer : int
        Core half-size and the sub-sampling of the wings.

    Returns
    -------
    ndarray, shape (2 half + 1, 2 half + 1)
        Each pixel's integral of the profile (mid-point rule on the sub-samples), divided
        by the stamp total; a truncated profile is therefore renormalised inside the stamp.

    Examples
    --------
    >>> g = lambda x, y: np.exp(-0.5 * (x * x + y * y))
    >>> s = render_profile(g, np.eye(2), (0.0, 0.0), half=5)
    >>> s.shape, round(float(s.sum()), 12), bool(s[5, 5] == s.max())
    ((11, 11), 1.0, True)
    """
    fx, fy = frac
    area = abs(np.linalg.det(jac))
    outer = _bin(_sample(profile, jac, half, os_outer, fx, fy), os_outer) * (area / os_outer**2)
    ch = min(core_half, half)
    core = _bin(_sample(profile, jac, ch, os, fx, fy), os) * (area / os**2)
    outer[half - ch : half + ch + 1, half - ch : half + ch + 1] = core
    total = outer.sum()
    if not total > 0:
        return np.zeros_like(outer)
    return outer / total


def _convolve_same(g: np.ndarray, k: np.ndarray, block: int = 512) -> np.ndarray:
    """``fftconvolve(g, k, mode="same")`` for an odd-sized ``k``; large ``g`` by row blocks.

    Overlap-add over blocks of rows keeps the memory to a few times the size of ``g``.
    """
    if g.shape[0] <= 4 * block:
        return fftconvolve(g, k, mode="same")
    ny, nx = g.shape
    ky, kx = k.shape
    oy, ox = (ky - 1) // 2, (kx - 1) // 2
    out = np.zeros_like(g)
    for a in range(0, ny, block):
        c = fftconvolve(g[a : a + block], k, mode="full")[:, ox : ox + nx]
        r0 = a - oy
        lo, hi = max(r0, 0), min(r0 + c.shape[0], ny)
        out[lo:hi] += c[lo - r0 : hi - r0]
    return out


def render_convolved(
    source: Profile,
    psf: Profile,
    jac: np.ndarray,
    frac: tuple[float, float],
    half: int,
    psf_half: int,
    os: int = 3,
    refine: int = 1,
    refine_half: int = 2,
) -> np.ndarray:
    """Pixel-integrated stamp of ``source`` convolved with ``psf``, normalised to unit sum.

    Both profiles are sampled on the same ``os``-times finer grid of pixel offsets mapped
    through ``jac``; the convolution is a discrete FFT convolution on that grid, so it is
    exact to the linear order of the distortion over the stamp.  ``os`` must be odd (the
    PSF kernel then has a sample at its centre).  Within ``refine_half`` pixels of the
    centre, each source sample is the mean of ``refine``² finer ones (cuspy Sérsic cores
    are otherwise over- or under-weighted by the sample nearest the centre).

    Examples
    --------
    >>> g = lambda x, y: np.exp(-0.5 * (x * x + y * y))
    >>> s = render_convolved(g, g, np.eye(2), (0.1, 0.0), half=6, psf_half=4, os=3, refine=3)
    >>> s.shape, round(float(s.sum()), 12)
    ((13, 13), 1.0)
    """
    fx, fy = frac
    if os % 2 == 0:
        raise ValueError(f"os={os} must be odd so that the PSF kernel is centred on a sample")
    g = _sample(source, jac, half, os, fx, fy)
    if refine > 1:
        ch = min(refine_half, half)
        fine = _bin(_sample(source, jac, ch, os * refine, fx, fy), refine) / refine**2
        a, b = (half - ch) * os, (half + ch + 1) * os
        g[a:b, a:b] = fine
    gs = g.sum()
    if not gs > 0:
        return np.zeros((2 * half + 1, 2 * half + 1))
    p = _sample(psf, jac, psf_half, os, 0.0, 0.0)
    g /= gs
    conv = _convolve_same(g, p / p.sum())
    del g
    np.clip(conv, 0.0, None, out=conv)
    out = _bin(conv, os)
    total = out.sum()
    return out / total if total > 0 else out


def apply_pixel_kernel(stamp: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """Convolve a pixel stamp with an odd-sized detector kernel, growing it by its half-size.

    The kernel (charge diffusion, interpixel capacitance) acts on detector pixels, after
    the light is integrated over them; charge that spreads beyond the stamp is kept.

    Examples
    --------
    >>> k = np.array([[0, 0.1, 0], [0.1, 0.6, 0.1], [0, 0.1, 0]])
    >>> out = apply_pixel_kernel(np.ones((1, 1)), k)
    >>> out.shape, float(out.sum()), float(out[1, 1])
    ((3, 3), 1.0, 0.6)
    """
    if kernel is None:
        return stamp
    from scipy.signal import convolve2d

    return convolve2d(stamp, kernel, mode="full")


def render_far(
    far_profile: Callable[[np.ndarray], np.ndarray],
    jac: np.ndarray,
    frac: tuple[float, float],
    half: int,
) -> np.ndarray:
    """A smooth radial wing sampled once per pixel (centre), times the pixel's sky area.

    ``far_profile(r)`` is a surface brightness (flux per arcsec²) at sky distance ``r``;
    the wing is smooth on the pixel scale, so one sample per pixel integrates it well.

    Examples
    --------
    >>> s = render_far(lambda r: np.where(r > 1.5, 1.0, 0.0), np.eye(2), (0.0, 0.0), 3)
    >>> s.shape, float(s[3, 3]), float(s[0, 0])
    ((7, 7), 0.0, 1.0)
    """
    off = np.arange(-half, half + 1, dtype=float)
    u = off - frac[0]
    v = off - frac[1]
    U, V = np.meshgrid(u, v)
    xi = jac[0, 0] * U + jac[0, 1] * V
    eta = jac[1, 0] * U + jac[1, 1] * V
    return far_profile(np.hypot(xi, eta)) * abs(np.linalg.det(jac))


def add_stamp(image: np.ndarray, stamp: np.ndarray, x0: int, y0: int, scale: float = 1.0) -> None:
    """Add ``scale * stamp`` into ``image`` with the stamp's [0, 0] at pixel ``(x0, y0)``.

    Parts falling outside ``image`` are dropped.  ``image`` is modified in place.
    """
    ny, nx = image.shape
    sy, sx = stamp.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + sx, nx), min(y0 + sy, ny)
    if xa >= xb or ya >= yb:
        return
    image[ya:yb, xa:xb] += scale * stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


# -- cosmic rays ----------------------------------------------------------------------
def _event_deposits(
    n: int,
    thickness: float,
    diffusion: float,
    charge_loc: float,
    charge_scale: float,
    max_length: float,
    rng: np.random.Generator,
):
    """Geometry and charge of ``n`` events, centred at the origin.

    Returns the event index, sub-pixel position and charge of each deposit along the tracks.
    """
    # isotropic flux through a plane: cos(theta) = sqrt(U); projected length = t tan(theta)
    cos_t = np.sqrt(rng.uniform(1e-6, 1.0, n))
    tan_t = np.sqrt(1.0 - cos_t**2) / cos_t
    length = np.minimum(thickness * tan_t, max_length)
    path = np.hypot(length, thickness) / thickness  # path in silicon / thickness (>= 1)
    # Landau-like (Moyal) energy loss per unit path; charge grows with the path length
    z = rng.standard_normal(n)
    moyal = -np.log(np.maximum(z * z, 1e-300))
    charge = path * (charge_loc + charge_scale * moyal)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    nsub = np.maximum(1, np.ceil(length * 3.0)).astype(np.int64)
    ev = np.repeat(np.arange(n), nsub)
    first = np.cumsum(nsub) - nsub
    k = np.arange(ev.size) - first[ev]
    t = (k + 0.5) / nsub[ev] - 0.5
    dx = t * length[ev] * np.cos(phi[ev])
    dy = t * length[ev] * np.sin(phi[ev])
    q = charge[ev] / nsub[ev]
    return ev, dx, dy, q


def _diffuse(
    ev: np.ndarray, px: np.ndarray, py: np.ndarray, q: np.ndarray, diffusion: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spread point deposits over 3 × 3 pixels with a Gaussian of sigma ``diffusion``."""
    ix = np.floor(px + 0.5)
    iy = np.floor(py + 0.5)
    fx = px - ix
    fy = py - iy
    s = diffusion * np.sqrt(2.0)
    edges = np.array([-1.5, -0.5, 0.5, 1.5])
    wx = np.diff(erf((edges[None, :] - fx[:, None]) / s), axis=1)
    wy = np.diff(erf((edges[None, :] - fy[:, None]) / s), axis=1)
    w = wy[:, :, None] * wx[:, None, :]
    w /= w.sum(axis=(1, 2), keepdims=True)
    off = np.array([-1, 0, 1])
    ox = np.broadcast_to(off[None, None, :], w.shape)
    oy = np.broadcast_to(off[None, :, None], w.shape)
    ex = (ix[:, None, None] + ox).astype(np.int64).ravel()
    ey = (iy[:, None, None] + oy).astype(np.int64).ravel()
    eq = (q[:, None, None] * w).ravel()
    ee = np.broadcast_to(ev[:, None, None], w.shape).ravel()
    return ee, ex, ey, eq


def _footprints(ev, ex, ey, eq, floor: float):
    """Per-(event, pixel) charge with the floor applied."""
    # pack (event, y, x) into one int64 key; offsets keep coordinates positive
    span = 1 << 20
    key = (ev.astype(np.int64) * span + (ey + span // 2)) * span + (ex + span // 2)
    uniq, inv = np.unique(key, return_inverse=True)
    charge = np.bincount(inv, weights=eq)
    keep = charge >= floor
    uniq = uniq[keep]
    charge = charge[keep]
    px = uniq % span - span // 2
    py = (uniq // span) % span - span // 2
    pev = uniq // (span * span)
    return pev, px, py, charge


def cosmic_ray_image(
    shape: tuple[int, int],
    n_events: int,
    *,
    thickness: float,
    diffusion: float,
    charge_loc: float,
    charge_scale: float,
    floor: float,
    max_length: float,
    margin: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Charge (e⁻) deposited by ``n_events`` cosmic rays on an image of ``shape``.

    Event centres are uniform over the image grown by ``margin`` pixels on every side, so
    events straddling the edges are as frequent as inside.  Pixels receiving less than
    ``floor`` electrons from an event get none from it (the footprint's edge).
    """
    ny, nx = shape
    out = np.zeros(shape)
    if n_events <= 0:
        return out
    cx = rng.uniform(-margin - 0.5, nx + margin - 0.5, n_events)
    cy = rng.uniform(-margin - 0.5, ny + margin - 0.5, n_events)
    ev, dx, dy, q = _event_deposits(
        n_events, thickness, diffusion, charge_loc, charge_scale, max_length, rng
    )
    ee, ex, ey, eq = _diffuse(ev, cx[ev] + dx, cy[ev] + dy, q, diffusion)
    # the floor is applied per event, before clipping, so the footprint does not depend on
    # where the image edge falls
    _, px, py, charge = _footprints(ee, ex, ey, eq, floor)
    on = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
    np.add.at(out, (py[on], px[on]), charge[on])
    return out


def _isolated_events(
    n: int,
    thickness: float,
    diffusion: float,
    charge_loc: float,
    charge_scale: float,
    floor: float,
    max_length: float,
    rng: np.random.Generator,
):
    """Footprints ``(event, x, y, charge)`` of ``n`` non-overlapping events near (0, 0)."""
    ev, dx, dy, q = _event_deposits(
        n, thickness, diffusion, charge_loc, charge_scale, max_length, rng
    )
    cx = rng.uniform(-0.5, 0.5, n)
    cy = rng.uniform(-0.5, 0.5, n)
    ee, ex, ey, eq = _diffuse(ev, cx[ev] + dx, cy[ev] + dy, q, diffusion)
    return _footprints(ee, ex, ey, eq, floor)


@functools.lru_cache(maxsize=64)
def mean_pixels_per_event(
    thickness: float,
    diffusion: float,
    charge_loc: float,
    charge_scale: float,
    floor: float,
    max_length: float,
    n: int = 40000,
) -> float:
    """Mean number of pixels one event affects (deterministic Monte Carlo, cached)."""
    rng = np.random.default_rng(20020207)  # fixed: a calibration constant, not a draw
    pev, _, _, _ = _isolated_events(
        n, thickness, diffusion, charge_loc, charge_scale, floor, max_length, rng
    )
    return float(pev.size) / n


def event_sizes_and_charges(
    n: int,
    *,
    thickness: float,
    diffusion: float,
    charge_loc: float,
    charge_scale: float,
    floor: float,
    max_length: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels affected and total charge collected of ``n`` isolated events (diagnostics)."""
    pev, _, _, charge = _isolated_events(
        n, thickness, diffusion, charge_loc, charge_scale, floor, max_length, rng
    )
    sizes = np.bincount(pev, minlength=n)
    charges = np.bincount(pev, weights=charge, minlength=n)
    return sizes, charges


def _bleed_column(col: np.ndarray, full_well: float, flag: np.ndarray) -> None:
    n = col.size
    for _ in range(n):
        idx = np.flatnonzero(col > full_well)
        if idx.size == 0:
            return
        a = b = int(idx[0])
        # the run of over-full pixels starting at a
        while b + 1 < n and col[b + 1] > full_well:
            b += 1
        lo, hi = a, b
        total = float(col[lo : hi + 1].sum())
        while total > full_well * (hi - lo + 1) and (lo > 0 or hi < n - 1):
            if lo > 0:
                lo -= 1
                total += float(col[lo])
            if total > full_well * (hi - lo + 1) and hi < n - 1:
                hi += 1
                total += float(col[hi])
        length = hi - lo + 1
        col[lo : hi + 1] = full_well
        flag[lo : hi + 1] = True
        deficit = full_well * length - total
        if deficit > 0:  # the two end pixels are only partly filled
            if length == 1:
                col[lo] -= deficit
            else:
                col[lo] -= deficit / 2
                col[hi] -= deficit / 2


def bleed_columns(image: np.ndarray, full_well: float) -> np.ndarray:
    """Spill charge above ``full_well`` up and down its column, conserving it (in place).

    Each run of over-full pixels grows symmetrically along the column (the CCD's parallel
    direction) until it holds its charge at the full well; charge reaching the ends of the
    column is lost.  Returns the mask of pixels at or filled by the overflow.

    Examples
    --------
    >>> img = np.zeros((7, 1)); img[3, 0] = 25.0
    >>> mask = bleed_columns(img, 10.0)
    >>> img[:, 0].tolist(), int(mask.sum())
    ([0.0, 0.0, 7.5, 10.0, 7.5, 0.0, 0.0], 3)
    """
    flag = np.zeros(image.shape, bool)
    cols = np.unique(np.nonzero(image > full_well)[1])
    for x in cols:
        col = image[:, x].copy()
        f = np.zeros(col.size, bool)
        _bleed_column(col, full_well, f)
        image[:, x] = col
        flag[:, x] = f
    return flag
