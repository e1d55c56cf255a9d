"""Read and write simulated exposures as HST-style ``*_flt.fits`` files.

``write_exposure(exposure, "x_flt.fits")`` writes

* ``x_flt.fits``: a primary header and, per chip, ``SCI``, ``ERR`` and ``DQ`` extensions
  (``EXTVER`` = 1, 2 ...), each with the chip's TAN-SIP WCS and the keywords AstroDrizzle
  reads (``INSTRUME``, ``DETECTOR``, ``EXPTIME``, ``CCDCHIP``, ``IDCSCALE``, ``BUNIT``,
  ``LTV1/2`` ...).  ``SCI``/``ERR`` hold what the real instrument's flt files hold:

  - electrons (``BUNIT = ELECTRONS``) for ACS, WFC3/UVIS;
  - electrons per second (``BUNIT = ELECTRONS/S``) for WFC3/IR, whose calwf3 flt
    files are count rates from the up-the-ramp fit (WFC3 Data Handbook §2.2.2), with a
    ``TIME`` extension per chip (exposure time of each pixel, s) beside ``SCI``, ``ERR``
    and ``DQ``, as drizzlepac's IR reader expects.  (Real IR flt files also carry
    ``SAMP``, the number of reads fitted; the simulator has no ramp, so it is absent.);
  - DN (``BUNIT = COUNTS``) for WFPC2, divided by the drizzlepac gain of the chip for
    the ``ATODGAIN`` setting, as drizzlepac expects.

  Rates and DN are stored as float64 so that reading converts them back to exactly the
  float32 electrons of the :class:`Exposure` (in memory, every exposure is in electrons);
* ``x_truth.fits``: the truth — per chip ``NOISELESS``, ``CRCHARGE``, ``DEFECTS`` and
  ``DARK`` — kept out of the file a pipeline reads.

``read_exposure`` reads both back into an identical :class:`Exposure`.  Both files are
written atomically and never overwritten unless ``overwrite=True``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab import __version__
from ditherlab._io import atomic_path, check_writable, write_with
from ditherlab.errors import DitherlabWarning, FileFormatError
from ditherlab.simulate.exposure import ChipExposure, ChipTruth, Exposure, Truth

__all__ = ["read_exposure", "truth_path", "write_exposure"]

#: ``CCDAMP`` written per detector: the full-frame amplifiers of the CCDs, one amplifier
#: letter for HRC (drizzlepac's ``HRCInputImage`` sets the CTE direction from it) and
#: none for the MAMA (SBC) and the IR array.
_CCDAMP = {"WFC": "ABCD", "UVIS": "ABCD", "HRC": "C", "SBC": "N/A", "IR": "N/A"}

#: WFPC2 calibrated gains (e⁻/DN) by ``[CCDCHIP][ATODGAIN]`` (drizzlepac ``wfpc2Data``
#: ``WFPC2_GAINS``).  WFPC2 flt files hold DN (``BUNIT = COUNTS``), which drizzlepac
#: converts back to electrons with exactly these gains.
WFPC2_GAINS = {
    1: {7: 7.12, 15: 13.99},
    2: {7: 7.12, 15: 14.50},
    3: {7: 6.90, 15: 13.95},
    4: {7: 7.10, 15: 13.95},
}


def _wfpc2_atodgain(gain: float) -> int:
    """The WFPC2 gain setting (7 or 15) nearest the model gain."""
    return 15 if gain > 10.5 else 7


def _wfpc2_chip_gain(exp: Exposure, chip: ChipExposure) -> float:
    table = WFPC2_GAINS.get(int(chip.ccdchip))
    if table is None:
        raise FileFormatError(
            f"WFPC2 chip ccdchip={chip.ccdchip!r} is not one of {sorted(WFPC2_GAINS)}"
        )
    return table[_wfpc2_atodgain(exp.gain)]


def _is_rate(exp: Exposure) -> bool:
    """WFC3/IR flt files hold count rates (e⁻/s), like calwf3's."""
    return exp.instrument.upper() == "WFC3" and exp.detector.upper() == "IR"


def _file_bytes_per_pixel(instrument: str, detector: str) -> tuple[int, int]:
    """Bytes per simulated pixel of the ``(flt, truth)`` files' data (headers apart)."""
    inst, det = instrument.upper(), detector.upper()
    if inst == "WFC3" and det == "IR":
        flt = 8 + 8 + 2 + 4  # SCI, ERR float64 (e-/s), DQ int16, TIME float32
    elif inst == "WFPC2":
        flt = 8 + 8 + 2  # DN in float64
    else:
        flt = 4 + 4 + 2
    return flt, 4 + 4 + 1 + 4  # NOISELESS, CRCHARGE float32, DEFECTS uint8, DARK float32


def _write_bytes_per_pixel(instrument: str, detector: str) -> tuple[int, int]:
    """Memory :func:`write_exposure` adds: ``(new arrays per pixel, one array's item size)``.

    New arrays: the flt data converted for the file (DQ as int16; rates or DN in
    float64, IR ``TIME``); then astropy writes big-endian copies of the (read-only)
    arrays, one at a time.
    """
    inst, det = instrument.upper(), detector.upper()
    if inst == "WFC3" and det == "IR":
        return 8 + 8 + 2 + 4, 8
    if inst == "WFPC2":
        return 8 + 8 + 2, 8
    return 2, 4


_WCS_PREFIXES = ("WCSAXES", "CTYPE", "CUNIT", "CRPIX", "CRVAL", "CD1_", "CD2_", "A_", "B_")


def truth_path(path: str | os.PathLike[str]) -> Path:
    """The truth file that goes with an flt path: ``x_flt.fits`` → ``x_truth.fits``.

    Examples
    --------
    >>> truth_path("out/j8abc01_flt.fits").name
    'j8abc01_truth.fits'
    """
    p = Path(path)
    name = p.name
    for suffix in ("_flt.fits", "_flc.fits", ".fits"):
        if name.endswith(suffix):
            return p.with_name(name[: -len(suffix)] + "_truth.fits")
    return p.with_name(name + "_truth.fits")


def _wcs_cards(wcs: Any) -> dict[str, Any]:
    """The TAN-SIP cards of a WCS, from its exact in-memory values."""
    w = wcs.wcs
    cards: dict[str, Any] = {"WCSAXES": 2, "CTYPE1": w.ctype[0], "CTYPE2": w.ctype[1]}
    cards.update({"CUNIT1": "deg", "CUNIT2": "deg"})
    for i in range(2):
        cards[f"CRPIX{i + 1}"] = float(w.crpix[i])
    for i in range(2):
        cards[f"CRVAL{i + 1}"] = float(w.crval[i])
    cd = w.cd
    for i in range(2):
        for j in range(2):
            cards[f"CD{i + 1}_{j + 1}"] = float(cd[i, j])
    if wcs.sip is not None:
        cards["A_ORDER"] = int(wcs.sip.a_order)
        cards["B_ORDER"] = int(wcs.sip.b_order)
        for name, c, order in (
            ("A", wcs.sip.a, wcs.sip.a_order),
            ("B", wcs.sip.b, wcs.sip.b_order),
        ):
            for p in range(order + 1):
                for q in range(order + 1 - p):
                    if p + q >= 2:
                        cards[f"{name}_{p}_{q}"] = float(c[p, q])
    return cards


def _read_wcs(header: Any):
    from ditherlab.simulate.observe import _wcs_from_cards

    cards = {k: header[k] for k in header if k.startswith(_WCS_PREFIXES)}
    return _wcs_from_cards(cards)


def _orientat(wcs: Any) -> float:
    cd = wcs.wcs.cd
    return float(np.degrees(np.arctan2(cd[0, 1], cd[1, 1])) % 360.0)


def _primary_header(exp: Exposure):
    from astropy.io import fits

    h = fits.Header()
    h["TELESCOP"] = ("HST", "telescope (simulated by ditherlab)")
    h["INSTRUME"] = (exp.instrument, "instrument")
    h["DETECTOR"] = (exp.detector, "detector")
    h["FILENAME"] = f"{exp.rootname}_flt.fits"
    h["ROOTNAME"] = (exp.rootname, "rootname of the observation set")
    h["ORIGIN"] = "ditherlab"
    h["APERTURE"] = (exp.aperture, "aperture name")
    if exp.instrument == "ACS":
        h["FILTER1"] = (exp.filter, "element selected from filter wheel 1")
        h["FILTER2"] = ("CLEAR2L", "element selected from filter wheel 2")
    else:
        h["FILTER"] = (exp.filter, "element selected from filter wheel")
    h["PHOTMODE"] = f"{exp.instrument} {exp.detector} {exp.filter}"
    h["EXPTIME"] = (exp.exptime, "exposure duration (seconds)")
    h["TEXPTIME"] = exp.exptime
    h["DARKTIME"] = exp.exptime
    h["EXPSTART"] = (exp.expstart, "exposure start time (Modified Julian Date)")
    h["EXPEND"] = (exp.expstart + exp.exptime / 86400.0, "exposure end time (MJD)")
    h["RA_TARG"] = (exp.ra_targ, "right ascension of the target (deg)")
    h["DEC_TARG"] = (exp.dec_targ, "declination of the target (deg)")
    h["PA_V3"] = (exp.pa_v3, "position angle of V3-axis of HST (deg)")
    h["POSTARG1"] = (exp.postarg[0], "POS TARG in axis 1 direction (arcsec)")
    h["POSTARG2"] = (exp.postarg[1], "POS TARG in axis 2 direction (arcsec)")
    h["CCDAMP"] = (_CCDAMP.get(exp.detector, "ABCD"), "CCD amplifier(s) read out")
    h["CCDGAIN"] = (exp.gain, "commanded gain of CCD")
    if exp.instrument == "WFPC2":
        h["ATODGAIN"] = (float(_wfpc2_atodgain(exp.gain)), "analog to digital gain setting")
        h["MODE"] = ("FULL", "instrument mode: FULL (full resolution) or AREA")
        h["FILTNAM1"] = (exp.filter, "first filter name")
        h["FILTNAM2"] = ("", "second filter name")
    for amp in "ABCD":
        h[f"ATODGN{amp}"] = exp.gain
    for amp in "ABCD":
        h[f"READNSE{amp}"] = exp.read_noise
    h["MEANDARK"] = (exp.dark * exp.exptime, "average of the dark values subtracted (e-)")
    h["FLASHDUR"] = 0.0
    h["FLASHSTA"] = "NOT PERFORMED"
    h["SHUTRPOS"] = "A"
    h["ASN_TAB"] = "NONE"
    h["ASN_ID"] = "NONE"
    h["SUBARRAY"] = any(c.shape != c.full_shape for c in exp.chips)
    next_ = (4 if _is_rate(exp) else 3) * len(exp.chips)
    h["NEXTEND"] = (next_, "number of standard extensions")
    h["DL_VERS"] = (__version__, "ditherlab version")
    h["DL_SKY"] = (exp.sky, "simulated sky (e-/pixel)")
    h["DL_DARK"] = (exp.dark, "mean dark current (e-/s/pixel)")
    h["DL_IDCSC"] = (exp.idcscale, "nominal pixel scale (arcsec)")
    h["DL_META"] = json.dumps(dict(exp.meta), sort_keys=True)
    return h


def _sci_header(exp: Exposure, chip: ChipExposure, extname: str):
    from astropy.io import fits

    h = fits.Header()
    h["EXTNAME"] = extname
    h["EXTVER"] = chip.extver
    for k, v in _wcs_cards(chip.wcs).items():
        h[k] = v
    h["WCSNAME"] = "DITHERLAB"
    h["CCDCHIP"] = (chip.ccdchip, "CCD chip")
    if exp.instrument == "WFPC2":
        # drizzlepac's WFPC2 reader wants the chip number as DETECTOR and data in DN
        h["DETECTOR"] = (int(chip.ccdchip), "CCD chip (WFPC2: 1 = PC1, 2-4 = WF2-4)")
        if extname != "DQ":
            h["BUNIT"] = ("COUNTS", "brightness units (DN)")
            h["DL_GAIN"] = (_wfpc2_chip_gain(exp, chip), "e-/DN used to write this chip")
    elif extname == "TIME":
        h["BUNIT"] = ("SECONDS", "exposure time of each pixel")
    elif extname == "DQ":
        h["BUNIT"] = ("UNITLESS", "bit field")
    elif _is_rate(exp) and extname != "DQ":
        h["BUNIT"] = ("ELECTRONS/S", "brightness units (count rate, as calwf3 IR flt)")
    else:
        h["BUNIT"] = ("ELECTRONS", "brightness units")
    h["IDCSCALE"] = exp.idcscale if chip.idcscale is None else chip.idcscale
    if chip.sky is not None:
        h["DL_SKY"] = (chip.sky, "simulated sky in this chip (e-/pixel)")
    h["ORIENTAT"] = (_orientat(chip.wcs), "PA of image y axis (deg E of N)")
    h["PA_APER"] = (_orientat(chip.wcs), "PA of the aperture (deg)")
    h["VAFACTOR"] = 1.0
    h["LTV1"] = float(-chip.origin[0])
    h["LTV2"] = float(-chip.origin[1])
    h["LTM1_1"] = 1.0
    h["LTM2_2"] = 1.0
    h["DL_NX"] = (chip.full_shape[1], "full-chip columns")
    h["DL_NY"] = (chip.full_shape[0], "full-chip rows")
    h["DL_APER"] = (chip.aperture, "full-chip aperture of this chip")
    h["EXPNAME"] = exp.rootname
    h["MEANDARK"] = exp.dark * exp.exptime
    if extname == "SCI":
        good = chip.dq == 0
        h["NGOODPIX"] = int(good.sum())
        mean = float(chip.sci[good].mean()) if good.any() else 0.0
        h["GOODMEAN"] = mean / exp.exptime if _is_rate(exp) else mean
        snr = chip.sci[good] / np.maximum(chip.err[good], 1e-30)
        h["SNRMEAN"] = float(snr.mean()) if good.any() else 0.0
    return h


def _pair_id(exp: Exposure) -> str:
    """Identifier shared by an flt file and its truth file (a digest of the flt content).

    Deterministic, so the same seed still gives byte-identical files.
    """
    import hashlib

    h = hashlib.sha256()
    h.update(repr((exp.rootname, exp.expstart, exp.exptime, exp.postarg)).encode())
    for chip in exp.chips:
        for arr in (chip.sci, chip.err, chip.dq):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:32]


def _flt_hdulist(exp: Exposure):
    from astropy.io import fits

    ph = _primary_header(exp)
    ph["DL_PAIR"] = (_pair_id(exp), "id shared with the truth file")
    hdus: list[Any] = [fits.PrimaryHDU(header=ph)]
    for chip in exp.chips:
        sci, err = chip.sci, chip.err
        if exp.instrument == "WFPC2":
            # DN in float64, so that DN x gain rounds back to the same float32 electrons
            g = _wfpc2_chip_gain(exp, chip)
            sci = sci.astype(np.float64) / g
            err = err.astype(np.float64) / g
        elif _is_rate(exp):
            # e-/s in float64, so that rate x EXPTIME rounds back to the same float32 e-
            sci = sci.astype(np.float64) / exp.exptime
            err = err.astype(np.float64) / exp.exptime
        hdus.append(fits.ImageHDU(sci, header=_sci_header(exp, chip, "SCI")))
        hdus.append(fits.ImageHDU(err, header=_sci_header(exp, chip, "ERR")))
        # int16 on disk, as in HST flt files (bit 32768 is never set); drizzlepac's
        # resetbits fails on unsigned (BZERO = 32768) DQ arrays under numpy 2
        dq = chip.dq.astype(np.int16)
        hdus.append(fits.ImageHDU(dq, header=_sci_header(exp, chip, "DQ")))
        if _is_rate(exp):
            time = np.full(chip.sci.shape, exp.exptime, np.float32)
            hdus.append(fits.ImageHDU(time, header=_sci_header(exp, chip, "TIME")))
    return fits.HDUList(hdus)


def _truth_hdulist(exp: Exposure):
    from astropy.io import fits

    tr = exp.truth
    assert tr is not None
    h = fits.Header()
    h["ROOTNAME"] = exp.rootname
    h["DL_TRUTH"] = (True, "ditherlab truth file: never read by a pipeline")
    h["DL_POST1"] = (tr.postarg[0], "true POS TARG X (arcsec)")
    h["DL_POST2"] = (tr.postarg[1], "true POS TARG Y (arcsec)")
    h["DL_ROLL"] = (tr.roll, "roll error (deg)")
    h["DL_VISIT"] = (tr.visit, "visit number")
    h["DL_PAIR"] = (_pair_id(exp), "id shared with the flt file")
    hdus: list[Any] = [fits.PrimaryHDU(header=h)]
    for chip, ct in zip(exp.chips, tr.chips, strict=True):
        for name, arr in (
            ("NOISELESS", ct.noiseless),
            ("CRCHARGE", ct.cr_charge),
            ("DEFECTS", ct.defects),
            ("DARK", ct.dark),
        ):
            hh = fits.Header()
            hh["EXTNAME"] = name
            hh["EXTVER"] = chip.extver
            hh["CCDCHIP"] = chip.ccdchip
            if name == "NOISELESS":
                for k, v in _wcs_cards(ct.wcs).items():
                    hh[k] = v
            hdus.append(fits.ImageHDU(arr, header=hh))
    return fits.HDUList(hdus)


def write_exposure(
    exposure: Exposure, path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Write an exposure to ``path`` (``*_flt.fits``) and its truth beside it.

    Parameters
    ----------
    exposure : Exposure
        From :func:`~ditherlab.simulate.observe`.
    path : path-like
        The flt file.  The truth goes to :func:`truth_path` of it (if the exposure has
        one).
    overwrite : bool
        Replace existing files.  Writing an exposure without truth with ``overwrite``
        also removes a truth file left beside ``path`` by an earlier exposure.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputExistsError
        If a file exists and ``overwrite`` is False (nothing is written then).
    """
    if not isinstance(exposure, Exposure):
        from ditherlab.errors import DitherlabTypeError

        raise DitherlabTypeError(f"exposure={exposure!r} must be an Exposure")
    p = Path(path)
    tp = truth_path(p)
    check_writable(p, overwrite, "path")
    if exposure.truth is not None:
        check_writable(tp, overwrite, "truth path")
    flt = _flt_hdulist(exposure)
    if exposure.truth is None:
        write_with(p, lambda tmp: flt.writeto(tmp, overwrite=True), overwrite, "path")
        if overwrite and tp.is_file():
            tp.unlink()  # a truth of an earlier exposure must not pair with this one
        return p
    truth = _truth_hdulist(exposure)
    # both files are written to temporary names first and renamed only when both are
    # complete, so a failure leaves neither (nor a mismatched pair) behind
    with atomic_path(tp, overwrite, "truth path") as ttmp:
        truth.writeto(ttmp, overwrite=True)
        with atomic_path(p, overwrite, "path") as ftmp:
            flt.writeto(ftmp, overwrite=True)
    return p


def read_exposure(path: str | os.PathLike[str], truth: bool | None = None) -> Exposure:
    """Read an exposure written by :func:`write_exposure`.

    Parameters
    ----------
    path : path-like
        The flt file.
    truth : bool, optional
        Read the truth file: True requires it, False skips it, None (default) reads it
        when it exists.  The truth file must carry the flt file's ``DL_PAIR``
        identifier; one that does not (left over from another exposure written to the
        same path) is an error with ``truth=True`` and is skipped with a
        :class:`~ditherlab.errors.DitherlabWarning` with ``truth=None``.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or a required truth file) does not exist.
    FileFormatError
        If the file is not a ditherlab flt file, or ``truth=True`` and the truth file
        belongs to another exposure.
    """
    from astropy.io import fits

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path={str(p)!r} does not exist")
    try:
        with fits.open(p) as hdul:
            ph = hdul[0].header.copy()
            groups: dict[int, dict[str, Any]] = {}
            for hdu in hdul[1:]:
                name = hdu.header.get("EXTNAME")
                ver = int(hdu.header.get("EXTVER", 1))
                groups.setdefault(ver, {})[name] = (hdu.header.copy(), np.array(hdu.data))
    except OSError as exc:
        raise FileFormatError(f"path={str(p)!r} is not a readable FITS file: {exc}") from None
    if "INSTRUME" not in ph or not groups:
        raise FileFormatError(f"path={str(p)!r} has no INSTRUME keyword or no SCI extensions")
    chips = []
    try:
        for ver in sorted(groups):
            g = groups[ver]
            sh, sci = g["SCI"]
            err = g["ERR"][1]
            bunit = str(sh.get("BUNIT", "ELECTRONS")).strip().upper()
            to_e = float(sh["DL_GAIN"]) if bunit == "COUNTS" else None
            if bunit.endswith("/S"):
                to_e = float(ph["EXPTIME"])  # WFC3/IR: e-/s x EXPTIME (as drizzlepac)
            if to_e is not None:
                sci = (sci.astype(np.float64) * to_e).astype(np.float32)
                err = (err.astype(np.float64) * to_e).astype(np.float32)
            chips.append(
                ChipExposure(
                    sci=sci,
                    err=err,
                    dq=g["DQ"][1].astype(np.uint16),
                    wcs=_read_wcs(sh),
                    ccdchip=int(sh["CCDCHIP"]),
                    extver=ver,
                    origin=(round(-sh.get("LTV1", 0.0)), round(-sh.get("LTV2", 0.0))),
                    full_shape=(
                        int(sh.get("DL_NY", sci.shape[0])),
                        int(sh.get("DL_NX", sci.shape[1])),
                    ),
                    aperture=str(sh.get("DL_APER", "")),
                    idcscale=float(sh["IDCSCALE"]) if "IDCSCALE" in sh else None,
                    sky=float(sh["DL_SKY"]) if "DL_SKY" in sh else None,
                )
            )
        filt = ph["FILTER1"] if "FILTER1" in ph else ph.get("FILTER", "")
        meta = json.loads(ph.get("DL_META", "{}"))
        exp = Exposure(
            chips=tuple(chips),
            exptime=float(ph["EXPTIME"]),
            gain=float(ph["CCDGAIN"]),
            read_noise=float(ph["READNSEA"]),
            sky=float(ph.get("DL_SKY", 0.0)),
            dark=float(ph.get("DL_DARK", 0.0)),
            instrument=str(ph["INSTRUME"]),
            detector=str(ph["DETECTOR"]),
            aperture=str(ph.get("APERTURE", "")),
            filter=str(filt),
            rootname=str(ph["ROOTNAME"]),
            expstart=float(ph["EXPSTART"]),
            postarg=(float(ph.get("POSTARG1", 0.0)), float(ph.get("POSTARG2", 0.0))),
            ra_targ=float(ph.get("RA_TARG", 0.0)),
            dec_targ=float(ph.get("DEC_TARG", 0.0)),
            pa_v3=float(ph.get("PA_V3", 0.0)),
            idcscale=float(ph["DL_IDCSC"]),
            meta=meta,
        )
    except KeyError as exc:
        raise FileFormatError(f"path={str(p)!r}: missing keyword or extension {exc}") from None
    tp = truth_path(p)
    if truth or (truth is None and tp.is_file()):
        if not tp.is_file():
            raise FileNotFoundError(f"truth file {str(tp)!r} does not exist")
        from astropy.io import fits

        pair = fits.getval(tp, "DL_PAIR", ext=0) if tp.is_file() else None
        if pair is None or pair != ph.get("DL_PAIR"):
            msg = (
                f"truth file {str(tp)!r} does not belong to path={str(p)!r} (their DL_PAIR "
                f"identifiers {pair!r} and {ph.get('DL_PAIR')!r} differ): it is left over "
                "from another exposure"
            )
            if truth:
                raise FileFormatError(msg)
            warnings.warn(msg + "; read without truth", DitherlabWarning, stacklevel=2)
            return exp
        exp = exp.replace(truth=_read_truth(tp, exp))
    return exp


def _read_truth(path: Path, exp: Exposure) -> Truth:
    from astropy.io import fits

    with fits.open(path) as hdul:
        ph = hdul[0].header
        chips = []
        for chip in exp.chips:
            v = chip.extver
            nl = hdul["NOISELESS", v]
            chips.append(
                ChipTruth(
                    noiseless=np.array(nl.data),
                    cr_charge=np.array(hdul["CRCHARGE", v].data),
                    defects=np.array(hdul["DEFECTS", v].data),
                    dark=np.array(hdul["DARK", v].data),
                    wcs=_read_wcs(nl.header),
                )
            )
        return Truth(
            chips=tuple(chips),
            postarg=(float(ph["DL_POST1"]), float(ph["DL_POST2"])),
            roll=float(ph["DL_ROLL"]),
            visit=int(ph["DL_VISIT"]),
        )
