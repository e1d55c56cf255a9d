"""What the pipeline returns (:class:`PipelineProducts`) and how it is written to disk.

Files (AstroDrizzle's conventions): ``<output>_drz.fits`` with ``SCI``, ``WHT`` and
``CTX`` image extensions and the parameters in the primary header (``HIERARCH ADRIZ
FINAL_PIXFRAC = 1.0`` ..., AstroDrizzle's names in capitals); one
``<input>_crmask.fits`` per input exposure with one uint8 image per chip (1 = good,
0 = cosmic ray, as AstroDrizzle's ``_crmask.fits``); ``<output>_sky.ecsv`` with the sky of
every chip (``MDRIZSKY``).  Every file is written to a temporary name and renamed only
when all are complete; nothing is overwritten unless ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab import __version__
from ditherlab._io import check_writable, temp_beside
from ditherlab.errors import DitherlabValueError, OutputExistsError

__all__ = ["PipelineProducts", "product_paths", "write_files_atomically"]


def product_paths(
    directory: str | os.PathLike[str], output: str, names: list[str] | tuple[str, ...]
) -> tuple[Path, list[Path], Path]:
    """The drz, the crmask of every input and the sky table that a run writes.

    ``<output>_drz.fits``, ``<input stem>_crmask.fits`` (``_flt``/``_flc``/``.fits``
    removed) and ``<output>_sky.ecsv``, all inside ``directory``.  Checked before any
    work is done, so that a bad name fails at once rather than after a long run.

    Raises
    ------
    DitherlabValueError
        ``output`` is not a plain file-name stem (no directory part: nothing may leave
        ``directory``), or two inputs would write the same crmask.

    Examples
    --------
    >>> drz, masks, sky = product_paths("out", "final", ["a/j1_flt.fits", "b/j2_flc.fits"])
    >>> drz.name, [m.name for m in masks], sky.name
    ('final_drz.fits', ['j1_crmask.fits', 'j2_crmask.fits'], 'final_sky.ecsv')
    """
    d = Path(directory)
    if not output or Path(output).name != output or output in (".", ".."):
        raise DitherlabValueError(f"output={output!r} must be a plain file name stem")
    masks: list[Path] = []
    for name in names:
        stem = Path(name).name
        for suffix in ("_flt.fits", "_flc.fits", ".fits"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        p = d / f"{stem}_crmask.fits"
        if p in masks:
            raise DitherlabValueError(
                f"input {name!r}: two inputs would both write {p.name!r} (same file name)"
            )
        masks.append(p)
    return d / f"{output}_drz.fits", masks, d / f"{output}_sky.ecsv"


@dataclasses.dataclass(frozen=True, eq=False)
class PipelineProducts:
    """The products of :func:`~ditherlab.drizzle.pipeline.run_pipeline`.

    Attributes
    ----------
    sci : ndarray of float32
        Final drizzled image (e⁻/s, or e⁻ with ``final_units="counts"``); pixels of zero
        weight hold ``final_fillval``, or with INDEF what AstroDrizzle leaves there: the
        value of the last zero-weight input pixel that overlapped them, NaN where none did
        (:mod:`~ditherlab.drizzle.pipeline.fill`).  Use ``wht > 0`` for coverage.
    wht : ndarray of float32
        Final weight image.
    ctx : ndarray of int32 or None
        Context image ``(planes, ny, nx)``, one bit per input chip (None without
        ``context``).
    wcs : astropy.wcs.WCS
        WCS of ``sci``/``wht``/``ctx``.
    cr_masks : tuple of tuple of ndarray of bool
        ``[i][j]``: True where chip ``j`` of input ``i`` has a cosmic ray.
    sky : tuple of tuple of float
        ``[i][j]``: ``MDRIZSKY`` of each chip, e⁻ per pixel.
    config : PipelineConfig
        The parameters used.
    names : tuple of str
        Input file names (``<rootname>_flt.fits`` for Exposures).
    instrument, detector : str
    exptime : float
        Total exposure time (s) of the inputs (``EXPTIME`` of the product).
    chip_ids : tuple of tuple of (int, int)
        ``(EXTVER, CCDCHIP)`` of every chip.
    geometry : PipelineGeometry
        Grids and pixmaps (pass to ``run_pipeline(..., geometry=...)`` to reuse them).
    sky_computed : tuple of tuple of float
        The sky subtracted when drizzling (0 where the user had removed it).
    sky_method : str
    singles, single_weights : tuple of ndarray or None
        Single drizzles (e⁻/s; empty pixels hold ``driz_sep_fillval``, NaN for INDEF)
        and their weights, on
        ``geometry.sep_wcs`` (None with ``clean``).
    median : ndarray or None
        The median image (e⁻/s, same grid; None with ``clean``).
    crclean : tuple of tuple of ndarray or None
        With ``driz_cr_corr``: inputs with cosmic-ray pixels, and pixels flagged in DQ
        by any bit but ``crbit``, replaced by the blot (e⁻), as drizzlepac's ``_crclean``.
    dq : tuple of tuple of ndarray or None
        With ``update_dq``: copies of the input DQ (``resetbits`` cleared) with ``crbit``
        set on the cosmic rays.
    timings : mapping
        Wall time (s) of every step.
    exptimes : tuple of float
        Exposure time (s) of every input.
    """

    sci: np.ndarray
    wht: np.ndarray
    ctx: np.ndarray | None
    wcs: Any
    cr_masks: tuple[tuple[np.ndarray, ...], ...]
    sky: tuple[tuple[float, ...], ...]
    config: Any
    names: tuple[str, ...]
    instrument: str
    detector: str
    exptime: float
    chip_ids: tuple[tuple[tuple[int, int], ...], ...]
    geometry: Any
    sky_computed: tuple[tuple[float, ...], ...]
    sky_method: str
    singles: tuple[np.ndarray, ...] | None = None
    single_weights: tuple[np.ndarray, ...] | None = None
    median: np.ndarray | None = None
    crclean: tuple[tuple[np.ndarray, ...], ...] | None = None
    dq: tuple[tuple[np.ndarray, ...], ...] | None = None
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)
    exptimes: tuple[float, ...] = ()

    def blot_median(self, i: int, j: int) -> np.ndarray:
        """The median blotted onto chip ``j`` of input ``i`` (e⁻, its sky added back).

        What the cosmic-ray test compared the chip with: ``data − blot_median(i, j)`` is
        noise plus cosmic rays where the registration is right (needs the median, i.e.
        ``clean=False``).
        """
        from ditherlab.drizzle.pipeline.blot import blot_chip, median_for_blot

        if self.median is None or self.single_weights is None:
            raise DitherlabValueError("the median was not kept (clean=True or median=False)")
        g = self.geometry
        med = median_for_blot(self.median, self.single_weights, self.config)
        return blot_chip(med, g.sep_pixmaps[i][j], g.sep_ratio[i][j], self.exptimes[i],
                         self.sky_computed[i][j], self.config)  # fmt: skip

    def __repr__(self) -> str:
        ny, nx = self.sci.shape
        ncr = sum(int(m.sum()) for ms in self.cr_masks for m in ms)
        return (
            f"PipelineProducts({len(self.names)} inputs, {self.instrument}/{self.detector}, "
            f"{nx}x{ny} output, {ncr} cosmic-ray pixels, sky method {self.sky_method!r})"
        )

    # ------------------------------------------------------------------ FITS
    def drz_hdulist(self):
        """The ``_drz.fits`` content as an :class:`astropy.io.fits.HDUList`."""
        from astropy.io import fits

        ph = fits.Header()
        ph["TELESCOP"] = "HST"
        ph["INSTRUME"] = self.instrument
        ph["DETECTOR"] = self.detector
        ph["ORIGIN"] = ("ditherlab", f"ditherlab {__version__} drizzle pipeline")
        ph["EXPTIME"] = (self.exptime, "total exposure time of the inputs (s)")
        ph["NDRIZIM"] = (sum(len(c) for c in self.chip_ids), "number of drizzled chips")
        units = "ELECTRONS/S" if self.config.final_units == "cps" else "ELECTRONS"
        ph["BUNIT"] = (units, "units of SCI")
        for k, name in enumerate(self.names, 1):
            ph[f"D{k:03d}DATA"] = (_fits_text(name), "input file")
        ph["SKYMETH"] = (self.sky_method, "how MDRIZSKY was obtained")
        for i, row in enumerate(self.sky, 1):
            for j, value in enumerate(row, 1):
                ph[f"MDRSK{i:02d}{j}"] = (float(value), f"MDRIZSKY of input {i} chip {j} (e-)")
        for name, value in self.config.as_header_cards():
            if isinstance(value, str):  # whole (long strings go on CONTINUE cards)
                value = _fits_text(value)
            ph[f"HIERARCH ADRIZ {name}"] = value
        hdr = self.wcs.to_header()
        hdr["BUNIT"] = units
        hdus = [
            fits.PrimaryHDU(header=ph),
            fits.ImageHDU(self.sci, header=hdr, name="SCI"),
            fits.ImageHDU(self.wht, header=self.wcs.to_header(), name="WHT"),
        ]
        if self.ctx is not None:
            ctx = self.ctx[0] if self.ctx.shape[0] == 1 else self.ctx
            hdus.append(fits.ImageHDU(ctx, header=self.wcs.to_header(), name="CTX"))
        return fits.HDUList(hdus)

    def crmask_hdulist(self, i: int):
        """The ``_crmask.fits`` of input ``i``: one uint8 image per chip, 1 good, 0 CR."""
        from astropy.io import fits

        ph = fits.Header()
        ph["FILENAME"] = _fits_text(self.names[i])
        ph["INSTRUME"] = self.instrument
        ph["CRBIT"] = (self.config.crbit, "DQ bit of cosmic rays")
        ph["MASKVAL"] = (0, "value of cosmic-ray pixels (1 = good)")
        hdus = [fits.PrimaryHDU(header=ph)]
        for (extver, ccdchip), m in zip(self.chip_ids[i], self.cr_masks[i], strict=True):
            h = fits.Header()
            h["EXTVER"] = extver
            h["CCDCHIP"] = ccdchip
            h["NCRPIX"] = (int(m.sum()), "cosmic-ray pixels")
            hdus.append(fits.ImageHDU((~m).astype(np.uint8), header=h, name="CRMASK"))
        return fits.HDUList(hdus)

    def sky_table(self):
        """The sky of every chip as an :class:`astropy.table.Table` (e⁻ per pixel)."""
        from astropy.table import Table

        rows = []
        for i, name in enumerate(self.names):
            for (extver, ccdchip), s, c in zip(
                self.chip_ids[i], self.sky[i], self.sky_computed[i], strict=True
            ):
                rows.append((name, extver, ccdchip, s, c))
        t = Table(
            rows=rows or None,
            names=("file", "extver", "ccdchip", "mdrizsky", "subtracted_when_drizzling"),
            dtype=(str, int, int, float, float),
        )
        t["mdrizsky"].unit = "electron"
        t["subtracted_when_drizzling"].unit = "electron"
        t.meta["skymethod"] = self.sky_method
        return t

    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the ``_drz.fits`` (SCI, WHT, CTX, parameters in the header).

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is False.
        """
        hdul = self.drz_hdulist()
        target = {Path(path): lambda tmp: hdul.writeto(tmp, overwrite=True)}
        write_files_atomically(target, overwrite)
        return Path(path)

    def write_all(
        self, directory: str | os.PathLike[str], output: str = "final", overwrite: bool = False
    ) -> list[Path]:
        """Write the drz, one crmask per input and the sky table into ``directory``.

        Names: ``<output>_drz.fits``, ``<input stem>_crmask.fits`` (``_flt``/``_flc``
        removed) and ``<output>_sky.ecsv``.  All files or none are written.
        """
        d = Path(directory)
        if not d.is_dir():
            raise FileNotFoundError(f"output directory {str(d)!r} does not exist")
        drz_path, mask_paths, sky_path = product_paths(d, output, self.names)
        targets: dict[Path, Callable[[Path], None]] = {}
        drz = self.drz_hdulist()
        targets[drz_path] = lambda tmp: drz.writeto(tmp, overwrite=True)
        for i, p in enumerate(mask_paths):
            hd = self.crmask_hdulist(i)
            targets[p] = lambda tmp, hd=hd: hd.writeto(tmp, overwrite=True)
        table = self.sky_table()
        targets[sky_path] = lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True)
        write_files_atomically(targets, overwrite)
        return list(targets)


def _fits_text(text: str) -> str:
    r"""``text`` as printable ASCII for a FITS card (other characters as ``\xe9`` escapes).

    Examples
    --------
    >>> print(_fits_text("ciel_é_flt.fits"))
    ciel_\xe9_flt.fits
    """
    out = str(text).encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in out)


def write_files_atomically(
    targets: Mapping[Path, Callable[[Path], None]], overwrite: bool = False
) -> None:
    """Write several files so that either all appear or none does.

    Every writer gets a temporary path beside its target; the targets are replaced only
    once all writers have succeeded.  Existing targets are refused (before anything is
    written) unless ``overwrite``.
    """
    for p in targets:
        check_writable(p, overwrite, "output")
    temps: dict[Path, Path] = {}
    try:
        for p, writer in targets.items():
            temps[p] = temp_beside(p, "output")
            writer(temps[p])
        for p in targets:
            if p.exists() and not overwrite:
                raise OutputExistsError(f"output={str(p)!r} appeared while writing")
        umask = os.umask(0)
        os.umask(umask)
        for p, tmp in temps.items():
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, p)
    finally:
        for tmp in temps.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
