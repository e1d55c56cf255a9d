"""Point-spread functions on the sky: analytic (Gaussian, Moffat, Airy) and user images.

A PSF here is a surface-brightness profile ``psf.profile(xi, eta)`` in arcsec offsets on
the sky, truncated at ``psf.radius`` (arcsec) and normalised to unit flux inside that
radius by the renderer.  The renderer integrates it over each detector pixel (HST cameras
are undersampled, so point-sampling at pixel centres would be wrong) through the local
Jacobian of the distortion; see :func:`ditherlab.simulate._kernels.render_profile`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.special import erf, j1

from ditherlab._validation import as_array, as_float, as_int
from ditherlab.errors import DitherlabValueError, FileFormatError

__all__ = [
    "HSTPSF",
    "PSF",
    "AiryPSF",
    "GaussianPSF",
    "ImagePSF",
    "MoffatPSF",
    "default_psf",
    "pixel_kernel",
]

_RAD_TO_ARCSEC = 180.0 / np.pi * 3600.0


class PSF:
    """Base class: subclasses define :meth:`profile`, ``radius`` and ``fwhm`` (arcsec)."""

    radius: float
    fwhm: float

    def profile(self, xi: np.ndarray, eta: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Surface brightness (arbitrary normalisation) at offsets ``(xi, eta)`` arcsec."""
        raise NotImplementedError


def _radial_table(fn, radius: float, n: int = 4096):
    r = np.linspace(0.0, radius, n)
    return r, fn(r)


@dataclasses.dataclass(frozen=True)
class GaussianPSF(PSF):
    """Circular Gaussian PSF.

    Parameters
    ----------
    fwhm : float
        Full width at half maximum, arcsec.
    radius : float, optional
        Truncation radius, arcsec (default 3 FWHM, which encloses > 99.99 %).

    Examples
    --------
    >>> p = GaussianPSF(0.1)
    >>> peak = p.profile(np.array(0.0), np.array(0.0))
    >>> round(float(p.profile(np.array(0.05), np.array(0.0)) / peak), 6)
    0.5
    """

    fwhm: float
    radius: float | None = None

    def __post_init__(self) -> None:
        f = as_float("fwhm", self.fwhm, minimum=0.0, min_inclusive=False)
        object.__setattr__(self, "fwhm", f)
        r = 3.0 * f if self.radius is None else self.radius
        object.__setattr__(self, "radius", as_float("radius", r, minimum=0, min_inclusive=False))

    def profile(self, xi, eta):
        """Gaussian surface brightness, zero beyond ``radius``."""
        s2 = (self.fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))) ** 2
        r2 = xi * xi + eta * eta
        return np.where(r2 <= self.radius**2, np.exp(-0.5 * r2 / s2), 0.0)


@dataclasses.dataclass(frozen=True)
class MoffatPSF(PSF):
    """Circular Moffat PSF ``(1 + (r/alpha)**2) ** -beta``.

    Parameters
    ----------
    fwhm : float
        Full width at half maximum, arcsec.
    beta : float, optional
        Power index (default 2.5).
    radius : float, optional
        Truncation radius, arcsec (default 8 FWHM).
    """

    fwhm: float
    beta: float = 2.5
    radius: float | None = None

    def __post_init__(self) -> None:
        f = as_float("fwhm", self.fwhm, minimum=0.0, min_inclusive=False)
        b = as_float("beta", self.beta, minimum=1.0, min_inclusive=False)
        object.__setattr__(self, "fwhm", f)
        object.__setattr__(self, "beta", b)
        r = 8.0 * f if self.radius is None else self.radius
        object.__setattr__(self, "radius", as_float("radius", r, minimum=0, min_inclusive=False))

    def profile(self, xi, eta):
        """Moffat surface brightness, zero beyond ``radius``."""
        alpha = self.fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / self.beta) - 1.0))
        r2 = xi * xi + eta * eta
        return np.where(r2 <= self.radius**2, (1.0 + r2 / alpha**2) ** (-self.beta), 0.0)


@dataclasses.dataclass(frozen=True)
class AiryPSF(PSF):
    """Diffraction pattern of a circular aperture with a central obscuration.

    Parameters
    ----------
    wavelength : float
        Wavelength in µm.
    diameter : float, optional
        Primary mirror diameter in m (HST: 2.4).
    obscuration : float, optional
        Linear central obscuration ratio (HST: 0.33).
    radius : float, optional
        Truncation radius in arcsec (default 12 λ/D).

    Examples
    --------
    >>> p = AiryPSF(0.6)
    >>> round(p.fwhm, 3)
    0.05
    """

    wavelength: float
    diameter: float = 2.4
    obscuration: float = 0.33
    radius: float | None = None
    fwhm: float = dataclasses.field(init=False)
    _table: tuple = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        w = as_float("wavelength", self.wavelength, minimum=0.0, min_inclusive=False)
        d = as_float("diameter", self.diameter, minimum=0.0, min_inclusive=False)
        e = as_float("obscuration", self.obscuration, minimum=0.0, maximum=0.95)
        object.__setattr__(self, "wavelength", w)
        object.__setattr__(self, "diameter", d)
        object.__setattr__(self, "obscuration", e)
        lod = w * 1e-6 / d * _RAD_TO_ARCSEC
        r = 12.0 * lod if self.radius is None else self.radius
        object.__setattr__(self, "radius", as_float("radius", r, minimum=0, min_inclusive=False))
        rr, val = _radial_table(self._exact, self.radius)
        object.__setattr__(self, "_table", (rr, val))
        half = rr[np.argmax(val < 0.5 * val[0])]
        object.__setattr__(self, "fwhm", float(2.0 * half))

    def _exact(self, r: np.ndarray) -> np.ndarray:
        lod = self.wavelength * 1e-6 / self.diameter * _RAD_TO_ARCSEC
        x = np.pi * np.asarray(r, float) / lod
        e = self.obscuration
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(x > 0, 2.0 * j1(x) / np.where(x > 0, x, 1.0), 1.0)
            ex = e * x
            b = np.where(ex > 0, 2.0 * j1(ex) / np.where(ex > 0, ex, 1.0), 1.0)
        return ((a - e * e * b) / (1.0 - e * e)) ** 2

    def profile(self, xi, eta):
        """Tabulated Airy surface brightness (linear interpolation), zero beyond ``radius``."""
        r = np.sqrt(xi * xi + eta * eta)
        rr, val = self._table
        return np.interp(r, rr, val, right=0.0)


@dataclasses.dataclass(frozen=True, eq=False)
class ImagePSF(PSF):
    """A user-supplied, oversampled PSF image (e.g. from TinyTim or WebbPSF).

    The image is taken as flux per PSF pixel, centred on the middle of the array
    (``((nx - 1)/2, (ny - 1)/2)``), in the *detector* frame, as TinyTim and WebbPSF
    write distorted/detector-frame PSFs: ``image[y, x]`` has ``x`` along the detector's
    +x and ``y`` along its +y, and one PSF pixel is ``pixel_scale / idcscale`` detector
    pixels (``1 / oversampling`` by default).  The image therefore does not turn with the
    telescope roll and is not mirrored by the sky's parity (north-up images must be
    rotated by the user).  Between samples it is interpolated bilinearly; the renderer
    integrates the interpolated surface over detector pixels
    (:meth:`pixel_profile`).

    Parameters
    ----------
    image : array_like, 2-D
        PSF samples (non-negative, finite, positive sum).
    oversampling : int
        PSF pixels per detector pixel along each axis.
    pixel_scale : float, optional
        Arcsec per *PSF* pixel.  If omitted, it is ``idcscale / oversampling`` of the
        detector the PSF is used with (see :meth:`with_scale`).

    Examples
    --------
    >>> img = np.outer(np.hanning(20), np.hanning(20))
    >>> p = ImagePSF(img, oversampling=4, pixel_scale=0.0125)
    >>> round(p.radius, 4)
    0.125
    """

    image: np.ndarray
    oversampling: int
    pixel_scale: float | None = None

    def __post_init__(self) -> None:
        img = as_array("image", self.image, ndim=2).copy()
        if np.any(img < 0) or not img.sum() > 0:
            raise DitherlabValueError("image must be non-negative with a positive sum")
        img /= img.sum()
        img.setflags(write=False)
        object.__setattr__(self, "image", img)
        object.__setattr__(
            self, "oversampling", as_int("oversampling", self.oversampling, minimum=1)
        )
        if self.pixel_scale is not None:
            s = as_float("pixel_scale", self.pixel_scale, minimum=0, min_inclusive=False)
            object.__setattr__(self, "pixel_scale", s)

    @property
    def _scale(self) -> float:
        if self.pixel_scale is None:
            raise DitherlabValueError(
                "ImagePSF has no pixel_scale; give pixel_scale= or use it through observe(), "
                "which sets idcscale / oversampling of the detector"
            )
        return self.pixel_scale

    @property
    def radius(self) -> float:  # type: ignore[override]
        """Half the image diagonal-free extent: half the larger side, arcsec."""
        ny, nx = self.image.shape
        return 0.5 * max(nx, ny) * self._scale

    @property
    def fwhm(self) -> float:  # type: ignore[override]
        """Rough FWHM (arcsec) from the number of pixels above half maximum."""
        n = float((self.image >= 0.5 * self.image.max()).sum())
        return 2.0 * np.sqrt(n / np.pi) * self._scale

    def with_scale(self, pixel_scale: float) -> ImagePSF:
        """The same PSF with an explicit ``pixel_scale`` (arcsec per PSF pixel)."""
        return ImagePSF(self.image, self.oversampling, pixel_scale)

    def _interp(self, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        ny, nx = self.image.shape
        col = np.asarray(col, float) + (nx - 1) / 2.0
        row = np.asarray(row, float) + (ny - 1) / 2.0
        vals = map_coordinates(
            self.image, [row.ravel(), col.ravel()], order=1, mode="constant", cval=0.0
        )
        return vals.reshape(np.shape(row))

    def profile(self, xi, eta):
        """Bilinear interpolation with image +x/+y taken along ``xi``/``eta`` (arcsec).

        This is the image laid on an undistorted detector whose +x/+y point east/north;
        the simulator does not use it for rendering (see :meth:`pixel_profile`).
        """
        s = self._scale
        return self._interp(np.asarray(xi) / s, np.asarray(eta) / s) / (s * s)

    def pixel_profile(self, dx, dy, idcscale: float) -> np.ndarray:
        """The image at detector-pixel offsets ``(dx, dy)`` from its centre.

        Parameters
        ----------
        dx, dy : array_like
            Offsets along the detector's +x and +y, in detector pixels.
        idcscale : float
            The detector's nominal pixel scale (arcsec); one detector pixel is
            ``idcscale / pixel_scale`` PSF pixels.

        Returns
        -------
        ndarray
            Bilinearly interpolated flux per PSF pixel (zero outside the image).

        Examples
        --------
        >>> img = np.zeros((5, 5)); img[2, 3] = 1.0  # one PSF pixel right of the centre
        >>> p = ImagePSF(img, oversampling=2, pixel_scale=0.025)
        >>> float(p.pixel_profile(np.array(0.5), np.array(0.0), 0.05))
        1.0
        """
        k = float(idcscale) / self._scale
        return self._interp(np.asarray(dx) * k, np.asarray(dy) * k)

    @classmethod
    def from_fits(
        cls,
        path: str | os.PathLike[str],
        oversampling: int | None = None,
        pixel_scale: float | None = None,
        ext: int | str = 0,
    ) -> ImagePSF:
        """Read a PSF image from FITS.

        ``oversampling`` and ``pixel_scale`` default to the header keywords ``OVERSAMP``
        and ``PIXELSCL`` (WebbPSF's); TinyTim files need ``oversampling`` (or the
        ``pixel_scale``) given explicitly.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        FileFormatError
            If it is not a FITS file with a 2-D image in ``ext``, or no oversampling is
            known.
        """
        from astropy.io import fits

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"psf file {str(p)!r} does not exist")
        try:
            with fits.open(p) as hdul:
                hdu = hdul[ext]
                data = None if hdu.data is None else np.asarray(hdu.data, float)
                header = hdu.header.copy()
        except (OSError, KeyError, IndexError, ValueError) as exc:
            raise FileFormatError(
                f"psf file {str(p)!r}: cannot read extension {ext!r}: {exc}"
            ) from None
        if data is None or data.ndim != 2:
            shape = None if data is None else data.shape
            raise FileFormatError(
                f"psf file {str(p)!r}: extension {ext!r} holds {shape}, not a 2-D image"
            )
        if oversampling is None:
            oversampling = header.get("OVERSAMP", header.get("DET_SAMP"))
        if pixel_scale is None:
            pixel_scale = header.get("PIXELSCL")
        if oversampling is None:
            if pixel_scale is None:
                raise FileFormatError(
                    f"psf file {str(p)!r} has no OVERSAMP keyword; pass oversampling="
                )
            oversampling = 1
        return cls(data, int(oversampling), pixel_scale)





# -- the default HST PSF: optics x scattering halo x jitter; detector kernel separately --
def _interp_kernel(waves: np.ndarray, kernels: np.ndarray, wavelength: float) -> np.ndarray:
    """Linear interpolation of 3 × 3 kernels in wavelength, held constant beyond the ends."""
    w = float(np.clip(wavelength, waves[0], waves[-1]))
    j = int(np.clip(np.searchsorted(waves, w) - 1, 0, max(len(waves) - 2, 0)))
    if len(waves) == 1:  # published kernels are rounded: renormalise so flux is kept
        return kernels[0] / kernels[0].sum()
    t = (w - waves[j]) / (waves[j + 1] - waves[j])
    k = (1.0 - t) * kernels[j] + t * kernels[j + 1]
    return k / k.sum()


def pixel_kernel(instrument: str, detector: str, wavelength: float) -> np.ndarray:
    """The detector's 3 × 3 pixel-response kernel at ``wavelength`` (nm).

    Charge diffusion of the ACS/WFC and HRC CCDs (ACS Instrument Handbook §5.6.1, kernels
    at 4000, 5500 and 8000 Å) and of WFC3/UVIS (WFC3 ISR 2008-40, 4000/6000/8000 Å), and
    the interpixel capacitance of WFC3/IR (WFC3 ISR 2008-41), interpolated linearly in
    wavelength and held at the end values outside the tabulated range.  Detectors without
    a tabulated kernel (ACS/SBC, WFPC2) get the identity.  Values and sources are in
    ``ditherlab/simulate/data/hst_psf.json``.

    Examples
    --------
    >>> pixel_kernel("ACS", "WFC", 400.0)[1].tolist()
    [0.11, 0.4, 0.11]
    >>> round(float(pixel_kernel("ACS", "WFC", 475.0)[1, 1]), 3)  # half way to 5500 A
    0.44
    """
    from ditherlab.simulate.filters import detector_entry

    w = as_float("wavelength", wavelength, minimum=0.0, min_inclusive=False)
    entry = detector_entry(instrument, detector).get("kernel")
    if entry is None:
        k = np.zeros((3, 3))
        k[1, 1] = 1.0
        return k
    waves = np.asarray(entry["wavelengths_nm"], float)
    kernels = np.asarray(entry["kernels"], float)
    return _interp_kernel(waves, kernels, w)


def _pupil(n: int, ota: Mapping[str, Any], cold: Mapping[str, Any] | None, angle: float):
    """Anti-aliased (4 × 4 sub-samples) pupil transmission on an ``n × n`` grid."""
    sub = 4
    c = (np.arange(n * sub) + 0.5) / (n * sub) * 2.0 - 1.0
    x, y = np.meshgrid(c, c)
    r = np.hypot(x, y)
    ok = (r <= 1.0) & (r >= ota["secondary_radius"])
    a = np.deg2rad(angle)
    u = x * np.cos(a) - y * np.sin(a)
    v = x * np.sin(a) + y * np.cos(a)
    ok &= (np.abs(u) > ota["spider_width"] / 2) & (np.abs(v) > ota["spider_width"] / 2)
    for py, px, pr in ota["pads"]:
        ok &= np.hypot(x - px, y - py) > pr
    if cold is not None:  # WFC3/IR cold mask: larger central stop, wider spiders, smaller rim
        ok &= (r <= cold["outer_radius"]) & (r >= cold["secondary_radius"])
        ok &= (np.abs(u) > cold["spider_width"] / 2) & (np.abs(v) > cold["spider_width"] / 2)
    return ok.reshape(n, sub, n, sub).mean(axis=(1, 3))


def _noll(j: int, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Noll-normalised Zernike polynomial ``Z_j`` (unit RMS over the unit disc)."""
    r2 = rho * rho
    terms = {
        4: lambda: np.sqrt(3.0) * (2 * r2 - 1),
        5: lambda: np.sqrt(6.0) * r2 * np.sin(2 * theta),
        6: lambda: np.sqrt(6.0) * r2 * np.cos(2 * theta),
        7: lambda: np.sqrt(8.0) * (3 * r2 - 2) * rho * np.sin(theta),
        8: lambda: np.sqrt(8.0) * (3 * r2 - 2) * rho * np.cos(theta),
        9: lambda: np.sqrt(8.0) * r2 * rho * np.sin(3 * theta),
        10: lambda: np.sqrt(8.0) * r2 * rho * np.cos(3 * theta),
        11: lambda: np.sqrt(5.0) * (6 * r2 * r2 - 6 * r2 + 1),
        22: lambda: np.sqrt(7.0) * (20 * r2**3 - 30 * r2 * r2 + 12 * r2 - 1),
    }
    if j not in terms:
        raise DitherlabValueError(f"Zernike term {j} is not implemented (4-11, 22)")
    return terms[j]()


def _aberrated(pupil: np.ndarray, zern: Mapping[str, Any] | None, wave_nm: float):
    """The pupil's complex field with the Tiny Tim Zernike wavefront at ``wave_nm``."""
    if zern is None:
        return pupil
    n = pupil.shape[0]
    c = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    x, y = np.meshgrid(c, c)
    rho, theta = np.hypot(x, y), np.arctan2(y, x)
    opd = np.zeros_like(rho)  # nm
    for j, w in zip(zern["noll"], zern["waves_rms"], strict=True):
        opd += w * zern["reference_nm"] * _noll(int(j), rho, theta)
    return pupil * np.exp(2j * np.pi * opd / wave_nm)


def _diffraction(pupil: np.ndarray, q: int) -> np.ndarray:
    """|FFT|² of the pupil zero-padded ``q`` times (Fraunhofer), centred, unit sum."""
    n = pupil.shape[0]
    field = np.zeros((n * q, n * q), dtype=pupil.dtype)
    field[:n, :n] = pupil
    img = np.abs(np.fft.fft2(field)) ** 2
    img = np.fft.fftshift(img)
    return img / img.sum()


def _halo_ee(r: np.ndarray, a: float, index: float, rmax: float) -> np.ndarray:
    """Encircled energy of the halo ``(1 + (r/a)²)^(-index/2)`` truncated at ``rmax``."""

    def cum(x):
        x = np.asarray(x, float)
        if abs(index - 2.0) < 1e-9:
            return np.log1p((x / a) ** 2)
        return (1.0 - (1.0 + (x / a) ** 2) ** (1.0 - index / 2.0)) / (index / 2.0 - 1.0)

    return np.clip(cum(np.minimum(r, rmax)) / cum(rmax), 0.0, 1.0)


def _kept_1d(sigma: float) -> float:
    """Fraction of a pixel's uniformly made charge that stays in it, along one axis.

    The diffusion is a Gaussian of ``sigma`` pixels.
    """
    x = (np.arange(400) + 0.5) / 400 - 0.5
    s2 = sigma * np.sqrt(2.0)
    return float(np.mean(0.5 * (erf((0.5 - x) / s2) - erf((-0.5 - x) / s2))))


@functools.lru_cache(maxsize=256)
def _diffusion_sigma(centre: float) -> float:
    """Gaussian sigma (pixels) of the diffusion keeping ``centre`` of a lit pixel's charge.

    The continuous form of a published 3 × 3 kernel: same centre; the side neighbours then
    agree to ≲ 15 % and the corners to 0.01 (see the tests).
    """
    from scipy.optimize import brentq

    if centre >= 1.0:
        return 0.0
    return float(brentq(lambda s: _kept_1d(s) ** 2 - centre, 1e-4, 5.0))


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a square ``img`` at ``(u, v)`` samples from its centre.

    ``u`` runs along columns, ``v`` along rows; zero outside.  ``map_coordinates(order=1)``
    gives the same numbers several times slower, and this is the renderer's inner loop.
    """
    n = img.shape[0]
    c = (n - 1) / 2.0
    x = u + c
    y = v + c
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    ok = (x0 >= 0) & (x0 <= n - 2) & (y0 >= 0) & (y0 <= n - 2)
    k = np.where(ok, y0 * n + x0, 0).astype(np.intp)
    flat = img.ravel()
    top = flat[k] + fx * (flat[k + 1] - flat[k])
    bot = flat[k + n] + fx * (flat[k + n + 1] - flat[k + n])
    return np.where(ok, top + fy * (bot - top), 0.0)


_BUILT: dict[tuple, tuple] = {}  # HSTPSF states by (instrument, detector, λ, blur, angle)


@dataclasses.dataclass(frozen=True, eq=False)
class HSTPSF(PSF):
    """ditherlab's default HST PSF: diffraction, scattering halo and jitter, on the sky.

    The optical part is the Fraunhofer pattern of the OTA pupil (2.4 m, secondary
    obscuration 0.33, four 0.022-radius spiders, three primary-mirror pads; Tiny Tim's
    pupil tables; WFC3/IR adds its cold mask) at one wavelength (the filter's pivot),
    computed by FFT.  A fraction ``1 - exp(-(2π σ/λ)²)`` (σ = 21.4 nm, the OTA's
    mid-frequency polishing errors) is moved into a broad halo truncated at 5.5″, with
    ``σ`` and the halo's shape fitted to the ACS/WFC and WFC3/UVIS encircled-energy tables
    (see ``docs/simulate.md``).  Every detector gets a Gaussian ``residual_blur`` (15 mas
    RMS per axis) for jitter, focus breathing and the field: chosen inside the window in
    which the ACS Instrument Handbook's F550M FWHM and the ACS filter tables' Tiny Tim
    central-pixel fractions are both reproduced within 10 % (10-16 mas; least squares
    14 mas); extra pointing ``jitter`` adds to it in quadrature.  WFC3/IR's total blur is 38.4 mas,
    fitted to the FWHM and sharpness of the WFC3 Instrument Handbook's Table 7.5
    (``detector_blur_mas`` in the data file).
    The detector's pixel response (charge diffusion, IPC) is *not* part of
    this PSF: :func:`~ditherlab.simulate.observe` applies :func:`pixel_kernel` after
    integrating over pixels (for the CCDs, the default folds charge diffusion into the
    PSF instead: ``charge_diffusion``).

    Within ``radius`` (1″) the PSF is an oversampled image (``profile``); beyond it, out to
    ``far_radius``, a radial profile (``far_profile``) carrying ``far_fraction`` of the
    light, which the renderer samples once per pixel.

    Parameters
    ----------
    instrument, detector : str
        e.g. ``"ACS"``, ``"WFC"`` (sets the pixel scale of the sampling, the cold mask
        and the filter list).
    filter : str, optional
        Filter name (default: the detector's default filter); its pivot wavelength is used.
    wavelength : float, optional
        Wavelength in nm, overriding the filter's pivot.
    jitter : float
        Extra pointing jitter, mas RMS per axis, added in quadrature to ``residual_blur``
        (which already stands for typical jitter; default 0).
    spider_angle : float
        Position angle (deg east of north) of one diffraction spike; observe() sets it from
        PA_V3 (the spiders lie along the V2/V3 diagonals).
    residual_blur : float, optional
        The blur (mas RMS per axis, Gaussian) that stands for what the optics and the
        kernels leave out on every detector: pointing jitter, focus breathing and the CCD's
        thickness away from the field centre.  Default (None): the data file's
        ``residual_blur`` (15 mas), chosen inside the window fitted to the ACS Tiny Tim
        central-pixel fractions and the on-orbit F550M FWHM of ACS/WFC and HRC
        (docs/simulate.md, "Residual blur").  0 gives the bare optics-and-kernel model.
    charge_diffusion : bool
        Fold the CCD's charge diffusion into the PSF as a continuous Gaussian blur whose
        pixel-integrated form has the centre value of the published kernel
        (:func:`pixel_kernel`) at this wavelength (default True; False for detectors
        without charge diffusion, and for WFC3/IR, whose interpixel capacitance is a
        pixel-level coupling that observe() applies after pixelation).

    Examples
    --------
    >>> p = HSTPSF("ACS", "WFC", "F606W")
    >>> p.wavelength, round(p.fwhm, 3), round(p.far_fraction, 3)
    (591.77, 0.073, 0.047)
    """

    instrument: str
    detector: str
    filter: str | None = None
    wavelength: float | None = None
    jitter: float = 0.0
    spider_angle: float = 45.0
    residual_blur: float | None = None
    charge_diffusion: bool = True
    radius: float = dataclasses.field(init=False)
    fwhm: float = dataclasses.field(init=False)
    far_radius: float = dataclasses.field(init=False)
    far_fraction: float = dataclasses.field(init=False)
    _state: tuple = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        from ditherlab.simulate.detector import detector_model
        from ditherlab.simulate.filters import default_filter, detector_entry, psf_data

        inst, det = str(self.instrument).upper(), str(self.detector).upper()
        entry = detector_entry(inst, det)
        filt = default_filter(inst, det) if self.filter is None else self.filter
        from ditherlab.simulate.filters import check_filter, pivot_wavelength

        filt = check_filter(inst, det, filt)
        if self.wavelength is None:
            wave = pivot_wavelength(inst, det, filt)
        else:
            wave = as_float("wavelength", self.wavelength, minimum=50.0, maximum=3000.0)
        jitter = as_float("jitter", self.jitter, minimum=0.0, maximum=1000.0)
        angle = as_float("spider_angle", self.spider_angle)
        data = psf_data()
        residual = self.residual_blur
        if residual is None:
            residual = data["residual_blur"]["mas_rms"]
        residual = as_float("residual_blur", residual, minimum=0.0, maximum=1000.0)
        for name, val in (("instrument", inst), ("detector", det), ("filter", filt),
                          ("wavelength", wave), ("jitter", jitter), ("spider_angle", angle),
                          ("residual_blur", residual)):
            object.__setattr__(self, name, val)
        scale = detector_model(inst, det).idcscale
        kernel = entry.get("kernel")
        cd = bool(self.charge_diffusion) and kernel is not None
        cd = cd and kernel["kind"] == "charge diffusion"
        object.__setattr__(self, "charge_diffusion", cd)
        blurs = (jitter, residual, entry.get("detector_blur_mas", 0.0))
        blur = _total_blur(inst, det, wave, scale, blurs, cd)
        key = (inst, det, wave, blur, angle % 360.0)
        state = _BUILT.get(key)
        if state is None:  # the FFT takes ~0.1-1 s: build each PSF once per process
            state = _build_hst(data["ota"], data["scatter"], entry.get("cold_mask"), wave,
                               scale, blur, angle, entry.get("zernikes"))
            if len(_BUILT) >= 64:
                _BUILT.pop(next(iter(_BUILT)))
            _BUILT[key] = state
        object.__setattr__(self, "_state", state)
        for name in ("radius", "fwhm", "far_radius", "far_fraction"):
            object.__setattr__(self, name, float(state[-1][name]))

    def profile(self, xi, eta):
        """Surface brightness (arbitrary units) within ``radius``, bilinear in the image."""
        img, samp = self._state[0], self._state[1]
        return _bilinear(img, np.asarray(xi, float) / samp, np.asarray(eta, float) / samp)

    def encircled_energy(self, r) -> np.ndarray:
        """Fraction of the light within radius ``r`` (arcsec) on the sky, before pixels.

        Examples
        --------
        >>> p = HSTPSF("ACS", "WFC", "F606W")
        >>> bool(abs(p.encircled_energy(5.5) - 1.0) < 1e-9)
        True
        """
        img, samp, rr, sb = self._state[:4]
        r = np.atleast_1d(np.asarray(r, float))
        h = img.shape[0] // 2
        y, x = np.mgrid[-h : h + 1, -h : h + 1] * samp
        rad = np.hypot(x, y).ravel()
        order = np.argsort(rad)
        cum_near = np.cumsum(img.ravel()[order])
        near = cum_near[np.searchsorted(rad[order], np.minimum(r, self.radius), "right") - 1]
        dr = np.diff(rr)
        ring = 0.5 * (sb[1:] * rr[1:] + sb[:-1] * rr[:-1]) * 2.0 * np.pi * dr
        cum_far = np.concatenate([[0.0], np.cumsum(ring)])
        far = np.interp(r, rr, cum_far, left=0.0)
        out = near + far * (self.far_fraction / cum_far[-1])
        return out if out.size > 1 else float(out[0])

    def far_profile(self, r):
        """Surface brightness (flux fraction per arcsec²) beyond ``radius``; 0 inside."""
        rr, sb = self._state[2], self._state[3]
        r = np.asarray(r, float)
        return np.where(r > self.radius, np.interp(r, rr, sb, right=0.0), 0.0)


def _total_blur(inst: str, det: str, wave: float, scale: float, blurs_mas,
                diffusion: bool) -> float:
    """RMS per axis (mas) of the one Gaussian that blurs the optics.

    The given blurs (jitter, residual blur, the detector's own) and, for a CCD, the
    continuous charge diffusion whose pixel-integrated centre is the published kernel's
    (:func:`_diffusion_sigma`), added in quadrature.
    """
    parts = list(blurs_mas)
    if diffusion:
        k0 = float(pixel_kernel(inst, det, wave)[1, 1])
        parts.append(1000.0 * scale * _diffusion_sigma(k0))
    return float(np.linalg.norm(parts))


def _radial_fwhm(img: np.ndarray, r: np.ndarray, samp: float) -> float:
    """FWHM (arcsec) from the azimuthal mean profile, half maximum found by interpolation."""
    k = np.rint(r / samp).astype(int).ravel()
    prof = np.bincount(k, weights=img.ravel()) / np.maximum(np.bincount(k), 1)
    below = np.flatnonzero(prof < 0.5 * prof[0])
    if below.size == 0:
        return float(2.0 * r.max())
    j = int(below[0])
    t = (prof[j - 1] - 0.5 * prof[0]) / (prof[j - 1] - prof[j])
    return float(2.0 * samp * (j - 1 + t))


def _build_hst(ota, scatter, cold, wave_nm, scale, jitter_mas, angle, zern=None):
    """The near image, its sampling, the far radial profile, and summary numbers."""
    from scipy.ndimage import gaussian_filter

    lod = wave_nm * 1e-9 / ota["diameter_m"] * _RAD_TO_ARCSEC  # arcsec
    r_near = 1.0
    q = int(max(2, np.ceil(lod / (scale / 8.0))))
    n = int(max(128, 2 * np.ceil(1.25 * r_near / lod)))
    n += n % 2
    samp = lod / q
    # the image's x axis is xi (east), its y axis eta (north); spikes at `angle` from north
    diff = _diffraction(_aberrated(_pupil(n, ota, cold, angle), zern, wave_nm), q)
    m = diff.shape[0]
    half = int(np.ceil(1.02 * r_near / samp)) + 2
    c = m // 2
    img = diff[c - half : c + half + 1, c - half : c + half + 1].copy()
    y, x = np.mgrid[-half : half + 1, -half : half + 1] * samp
    r = np.hypot(x, y)
    inside = r <= r_near
    s = 1.0 - np.exp(-((2.0 * np.pi * scatter["wfe_nm"] / wave_nm) ** 2))
    a = scatter["halo_width_lod"] * lod
    index = scatter["halo_index"]
    rmax = scatter["far_radius_arcsec"]
    d_in = float(img[inside].sum())
    img *= 1.0 - s
    # the halo's surface brightness, normalised to unit flux within rmax
    norm = np.pi * a * a * 2.0 / (index - 2.0) * (1.0 - (1.0 + (rmax / a) ** 2) ** (1 - index / 2))
    img += s * (1.0 + (r / a) ** 2) ** (-index / 2.0) / norm * samp * samp
    if jitter_mas > 0:
        img = gaussian_filter(img, jitter_mas / 1000.0 / samp, mode="constant")
    img[~inside] = 0.0
    near_flux = float(img.sum())
    # beyond r_near: the diffraction tail as r^-3 (its flux preserved) plus the halo
    d_far = (1.0 - s) * (1.0 - d_in)
    rr = np.linspace(r_near, rmax, 2048)
    amp = d_far / (2.0 * np.pi * (1.0 / r_near - 1.0 / rmax))
    sb = amp * rr**-3.0 + s * (1.0 + (rr / a) ** 2) ** (-index / 2.0) / norm
    far = d_far + s * (1.0 - float(_halo_ee(np.array(r_near), a, index, rmax)))
    img *= (1.0 - far) / near_flux  # near + far = 1 exactly
    fwhm = _radial_fwhm(img, r, samp)
    img.setflags(write=False)
    summary = {"radius": r_near, "fwhm": fwhm, "far_radius": rmax, "far_fraction": far}
    return img, samp, rr, sb, summary


def default_psf(
    model: Any, filter: str | None = None, *, jitter: float = 0.0, spider_angle: float = 45.0
) -> HSTPSF:
    """The default PSF of a detector model's camera in a filter: an :class:`HSTPSF`.

    Parameters
    ----------
    model : DetectorModel
        Gives the instrument and detector.
    filter : str, optional
        Default: the detector's default filter (F606W; F160W on WFC3/IR; F125LP on SBC).
    jitter, spider_angle : float
        See :class:`HSTPSF`.

    Examples
    --------
    >>> from ditherlab.simulate.detector import detector_model
    >>> default_psf(detector_model("WFC3", "IR")).filter
    'F160W'
    """
    return HSTPSF(model.instrument, model.detector, filter, jitter=jitter,
                  spider_angle=spider_angle)


def pixelated_psf(
    psf: PSF,
    pixel_scale: float,
    offset: tuple[float, float] = (0.0, 0.0),
    kernel: np.ndarray | None = None,
) -> np.ndarray:
    """A star's fraction of flux in each pixel of an undistorted square-pixel grid.

    The same steps as the simulator: the PSF's near part integrated over pixels, the
    detector ``kernel``, and the far wing (:class:`HSTPSF`) sampled once per pixel.  The
    star sits ``offset`` pixels from the centre of the stamp's central pixel.

    Parameters
    ----------
    psf : PSF
        Any PSF with an analytic ``profile`` (not an :class:`ImagePSF`).
    pixel_scale : float
        Arcsec per pixel.
    offset : (float, float)
        (dx, dy) of the star from the central pixel's centre, in ``[-0.5, 0.5]``.
    kernel : ndarray (3, 3), optional
        Detector kernel (:func:`pixel_kernel`).

    Returns
    -------
    ndarray
        Square stamp (odd size) summing to 1: the fractions ``f_ij`` of the handbooks'
        sharpness ``S = Σ f_ij²`` and central-pixel tables.

    Examples
    --------
    >>> f = pixelated_psf(GaussianPSF(0.1), 0.05)
    >>> round(float(f.sum()), 12), f.shape[0] % 2
    (1.0, 1)
    """
    from ditherlab.simulate import _kernels

    scale = as_float("pixel_scale", pixel_scale, minimum=0.0, min_inclusive=False)
    jac = np.eye(2) * scale
    half = int(np.ceil(psf.radius / scale)) + 1
    fwhm_px = psf.fwhm / scale
    os = int(np.clip(np.ceil(10.0 / max(fwhm_px, 1e-3)), 4, 16))
    stamp = _kernels.render_profile(psf.profile, jac, tuple(offset), half, os=os,
                                    core_half=max(3, int(np.ceil(3.0 * fwhm_px))))
    if kernel is not None:
        stamp = _kernels.apply_pixel_kernel(stamp, np.asarray(kernel, float))
    far = float(getattr(psf, "far_fraction", 0.0))
    if far <= 0:
        return stamp
    fh = int(np.ceil(psf.far_radius / scale)) + 1
    wing = _kernels.render_far(psf.far_profile, jac, tuple(offset), fh)
    out = wing * (far / wing.sum())
    h = stamp.shape[0] // 2
    out[fh - h : fh + h + 1, fh - h : fh + h + 1] += (1.0 - far) * stamp
    return out
