"""Point-spread functions on the sky: analytic (Gaussian, Moffat, Airy) and user images.

A PSF here is a surface-brightness profile ``psf.profile(xi, eta)`` in arcsec offsets on
the sky, truncated at ``psf.radius`` (arcsec) and normalised to unit flux inside that
radius by the renderer.  The renderer integrates it over each detector pixel (HST cameras
are undersampled, so point-sampling at pixel centres would be wrong) through the local
Jacobian of the distortion; see :func:`ditherlab.simulate._kernels.render_profile`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.special import j1

from ditherlab._validation import as_array, as_float, as_int
from ditherlab.errors import DitherlabValueError, FileFormatError

__all__ = ["PSF", "AiryPSF", "GaussianPSF", "ImagePSF", "MoffatPSF", "default_psf"]

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


def default_psf(model: Any) -> AiryPSF:
    """An Airy PSF (HST: 2.4 m, 0.33 obscuration) at the detector model's wavelength."""
    return AiryPSF(model.psf_wavelength)
