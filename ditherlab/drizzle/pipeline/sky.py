"""Sky background per chip: AstroDrizzle's ``skysub`` step (``sky.py`` → ``skymatch``).

The data are never changed: the sky is recorded per chip (``MDRIZSKY``, "subtracted")
and, separately, the value the drizzle steps subtract on the fly and blot adds back
("computed").  They differ only when the user has already removed the sky from the data
(``skyuser``, or a ``skyfile`` marked ``# applied = yes``): then nothing is subtracted
when drizzling but the recorded value still enters the cosmic-ray noise.

References
----------
DrizzlePac Handbook §6.3 "Sky Subtraction Considerations"; drizzlepac ``sky.py``
(``_skyUserFromFile``, ``_skyUserFromHeaderKwd``); ``stsci.skypac.skymatch`` (localmin,
globalmin, match, globalmin+match, sky in surface-brightness units: divided by the
pixel area ``IDCSCALE²`` and, for data in counts, by the exposure time).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab.drizzle.pipeline.stats import image_stats
from ditherlab.errors import DitherlabValueError, FileFormatError

__all__ = ["SkyResult", "chip_sky", "compute_sky", "read_skyfile"]


@dataclasses.dataclass(frozen=True)
class SkyResult:
    """Sky per exposure ``i`` and chip ``j``, electrons per pixel.

    Attributes
    ----------
    subtracted : tuple of tuple of float
        ``MDRIZSKY``: the sky the data hold (or held, before the user removed it).
    computed : tuple of tuple of float
        What the drizzle steps subtract and blot adds back (0 where the user already
        subtracted the sky).
    method : str
        How the values were obtained (``localmin`` ... ``skyuser``, ``skyfile``, ``none``).
    """

    subtracted: tuple[tuple[float, ...], ...]
    computed: tuple[tuple[float, ...], ...]
    method: str


def chip_sky(data: np.ndarray, good: np.ndarray | None, cfg: Any) -> float:
    """The sky of one chip: clipped ``skystat`` of its good pixels (see :mod:`.stats`).

    Examples
    --------
    >>> from ditherlab.drizzle.pipeline import PipelineConfig
    >>> rng = np.random.default_rng(3)
    >>> img = rng.normal(40.0, 6.0, (200, 200)).astype(np.float32)
    >>> img[50:60, 50:60] += 3000.0
    >>> abs(chip_sky(img, None, PipelineConfig()) - 40.0) < 0.1
    True
    """
    st = image_stats(
        data,
        good,
        lower=cfg.skylower,
        upper=cfg.skyupper,
        nclip=cfg.skyclip,
        lsig=cfg.skylsigma,
        usig=cfg.skyusigma,
        binwidth=cfg.skywidth,
        want_median=cfg.skystat == "median",
        want_mode=cfg.skystat == "mode",
    )
    value = {"median": st.median, "mode": st.mode, "mean": st.mean}[cfg.skystat]
    return float(value) if np.isfinite(value) else 0.0


def read_skyfile(path: str) -> tuple[dict[str, list[float]], bool]:
    """Parse an AstroDrizzle ``skyfile``: ``{name: [sky per chip]}`` and "applied".

    Lines are ``name value [value ...]`` (one value for all chips, or one per chip);
    a comment line containing ``applied = yes`` (or ``applied: true``) says the values
    were already subtracted from the data (drizzlepac ``sky._skyUserFromFile``).

    Raises
    ------
    FileNotFoundError, FileFormatError
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"skyfile={path!r} does not exist")
    values: dict[str, list[float]] = {}
    applied = False
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if "applied" in s and ("=" in s or ":" in s):
                word = s.replace(":", "=").split("=", 1)[1].strip().lower()
                applied = word in ("yes", "true", "y", "t")
            continue
        parts = s.split()
        try:
            values[parts[0]] = [float(v) for v in parts[1:]]
        except ValueError:
            raise FileFormatError(
                f"skyfile={path!r} line {n}: {s!r} is not 'name value ...'"
            ) from None
        if len(parts) < 2:
            raise FileFormatError(f"skyfile={path!r} line {n}: {s!r} has no sky value")
    return values, applied


def _from_skyfile(exposures, cfg) -> SkyResult:
    values, applied = read_skyfile(cfg.skyfile)
    sub = []
    for e in exposures:
        keys = (e.name, e.rootname, Path(e.name).stem)
        found = next((values[k] for k in keys if k in values), None)
        if found is None:
            raise DitherlabValueError(f"skyfile={cfg.skyfile!r} has no line for input {e.name!r}")
        if len(found) not in (1, len(e.chips)):
            raise DitherlabValueError(
                f"skyfile={cfg.skyfile!r}: {e.name!r} has {len(found)} values for "
                f"{len(e.chips)} chips"
            )
        sub.append(tuple(float(found[0 if len(found) == 1 else j]) for j in range(len(e.chips))))
    comp = tuple(tuple(0.0 for _ in s) for s in sub) if applied else tuple(sub)
    return SkyResult(tuple(sub), comp, "skyfile")


def _from_skyuser(exposures, cfg) -> SkyResult:
    sub = []
    for e in exposures:
        row = []
        for c in e.chips:
            if cfg.skyuser not in c.header:
                raise DitherlabValueError(
                    f"skyuser={cfg.skyuser!r}: keyword not in the SCI,{c.extver} header "
                    f"of {e.name!r}"
                )
            row.append(float(c.header[cfg.skyuser]))
        sub.append(tuple(row))
    return SkyResult(tuple(sub), tuple(tuple(0.0 for _ in r) for r in sub), "skyuser")


def compute_sky(
    exposures: list[Any],
    good_masks: list[list[np.ndarray]],
    cfg: Any,
    geometry: Any = None,
    chip_values: Any = None,
) -> SkyResult:
    """Sky of every chip according to ``cfg`` (``skysub``, ``skymethod``, ``skyuser``...).

    Parameters
    ----------
    exposures : list of InputExposure
        Data in electrons.
    good_masks : list of list of ndarray
        Pixels usable for the sky (DQ with ``sky_bits`` good, and the static mask when
        ``use_static``).
    cfg : PipelineConfig
    geometry : PipelineGeometry, optional
        Needed by ``match`` and ``globalmin+match`` (the overlaps are found on the
        single-drizzle grid).
    chip_values : callable, optional
        ``chip_values(items) -> values``: :func:`chip_sky` of every ``(data, good)`` of
        ``items``, in order (the pipeline computes them in worker processes); default one
        after the other here.

    Notes
    -----
    ``skyuser`` is honoured whenever it is set (drizzlepac reads it when ``skysub`` is
    off; the handbook describes it with ``skysub`` on): the user's keyword wins.
    """
    if cfg.skyuser:
        return _from_skyuser(exposures, cfg)
    zeros = tuple(tuple(0.0 for _ in e.chips) for e in exposures)
    if not cfg.skysub:
        return SkyResult(zeros, zeros, "none")
    if cfg.skyfile:
        return _from_skyfile(exposures, cfg)
    # sky per chip in surface-brightness units (e⁻ / s / arcsec²), as skymatch compares them
    items = [(c.sci, m) for e, ms in zip(exposures, good_masks, strict=True)
             for c, m in zip(e.chips, ms, strict=True)]  # fmt: skip
    flat = (chip_values(items) if chip_values is not None
            else [chip_sky(d, m, cfg) for d, m in items])  # fmt: skip
    it = iter(flat)
    raw = [[next(it) for _ in e.chips] for e in exposures]
    rate = [[v / (c.idcscale**2 * e.exptime) for v, c in zip(r, e.chips, strict=True)]
            for r, e in zip(raw, exposures, strict=True)]  # fmt: skip
    method = cfg.skymethod
    if method == "localmin":
        level = [[min(r)] * len(r) for r in rate]
    elif method == "globalmin":
        g = min(min(r) for r in rate)
        level = [[g] * len(r) for r in rate]
    else:
        delta = _match(exposures, good_masks, cfg, geometry)
        if delta is None:  # no usable overlaps: skymatch falls back
            method = "localmin" if method == "match" else "globalmin"
            g = min(min(r) for r in rate)
            level = [[min(r) if method == "localmin" else g] * len(r) for r in rate]
        else:
            base = min(min(r) for r in rate) if method == "globalmin+match" else 0.0
            level = [[base + d] * len(e.chips) for d, e in zip(delta, exposures, strict=True)]
    sub = tuple(
        tuple(float(lv * c.idcscale**2 * e.exptime) for lv, c in zip(row, e.chips, strict=True))
        for row, e in zip(level, exposures, strict=True)
    )
    return SkyResult(sub, sub, method)


def _footprint(masks, pixmaps, shape) -> np.ndarray:
    """Pixels of the single-drizzle grid that an exposure's good pixels reach."""
    from scipy.ndimage import binary_dilation

    cov = np.zeros(shape, bool)
    for m, pm in zip(masks, pixmaps, strict=True):
        x = np.rint(pm[..., 0][m]).astype(np.int64)
        y = np.rint(pm[..., 1][m]).astype(np.int64)
        ok = (x >= 0) & (x < shape[1]) & (y >= 0) & (y < shape[0])
        cov[y[ok], x[ok]] = True
    return binary_dilation(cov, iterations=1)


def _match(exposures, good_masks, cfg, geometry) -> list[float] | None:
    """Relative sky of each exposure from the pairwise differences in their overlaps.

    For every pair (a, b) the sky of a's good pixels that land where b has data, and of
    b's where a has data, are measured (same clipped statistic); the offsets Δ solve
    ``Δa − Δb = sky_a − sky_b`` in the least-squares sense (weighted by the overlap
    size) and are shifted so that the smallest is 0.  Returns None when the overlaps
    do not link every exposure.
    """
    if geometry is None:
        raise DitherlabValueError(f"skymethod={cfg.skymethod!r} needs the geometry")
    n = len(exposures)
    if n < 2:
        return None
    shape = geometry.sep_shape
    feet = [
        _footprint(ms, pms, shape)
        for ms, pms in zip(good_masks, geometry.sep_pixmaps, strict=True)
    ]
    rows, rhs, wts = [], [], []
    for a in range(n):
        for b in range(a + 1, n):
            pm = geometry.sep_pixmaps
            sa, na = _overlap_sky(exposures[a], good_masks[a], pm[a], feet[b], cfg)
            sb, nb = _overlap_sky(exposures[b], good_masks[b], pm[b], feet[a], cfg)
            if min(na, nb) < 100:
                continue
            row = np.zeros(n)
            row[a], row[b] = 1.0, -1.0
            w = np.sqrt(min(na, nb))
            rows.append(row * w)
            rhs.append((sa - sb) * w)
            wts.append(w)
    if not rows:
        return None
    A, y = np.array(rows), np.array(rhs)
    if np.linalg.matrix_rank(A) < n - 1:
        return None
    delta = np.linalg.lstsq(A, y, rcond=None)[0]
    return list(delta - delta.min())


def _overlap_sky(exposure, masks, pixmaps, other, cfg) -> tuple[float, int]:
    """Sky rate (e⁻/s/arcsec²) of an exposure's good pixels inside ``other``."""
    vals = []
    shape = other.shape
    for c, m, pm in zip(exposure.chips, masks, pixmaps, strict=True):
        x = np.rint(pm[..., 0]).astype(np.int64)
        y = np.rint(pm[..., 1]).astype(np.int64)
        ok = m & (x >= 0) & (x < shape[1]) & (y >= 0) & (y < shape[0])
        inside = np.zeros(m.shape, bool)
        inside[ok] = other[y[ok], x[ok]]
        vals.append(c.sci[inside] / np.float32(c.idcscale**2 * exposure.exptime))
    v = np.concatenate(vals) if vals else np.zeros(0, np.float32)
    if v.size == 0:
        return 0.0, 0
    return chip_sky(v, None, cfg), int(v.size)
