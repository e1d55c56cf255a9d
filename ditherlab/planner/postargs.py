"""POS TARG tables: write a pattern for the proposal, read it back.

Four formats:

``"apt"``
    One ``POS TARG X,Y`` line per exposure (arcsec, as typed into APT's exposure
    special requirements), ``#`` comment lines above them.  Values are rounded to
    ``decimals`` places (default 4, i.e. 0.1 mas; the STScI pattern pages print 3, the
    HUDF table 4); the largest rounding error is reported in pixels when an aperture is
    given.  Reading an APT file back gives the rounded values exactly.
``"ecsv"``
    An astropy ECSV table with units and metadata: pattern name and parameters, aperture,
    the field position and the pixel step of each exposure there.  Exact round trip.
``"csv"``
    Plain comma-separated values: one header line, then one row per exposure, no comment
    lines, so ``astropy.table.Table.read(path, format="csv")`` and Python's :mod:`csv`
    read it as plain rows.  Columns ``exposure``, ``postarg_x_arcsec``,
    ``postarg_y_arcsec`` and, with an aperture, ``pixel_x``, ``pixel_y`` and
    ``aperture``.  The offsets round-trip exactly (full float precision); the pattern name
    and the other metadata are kept only by ECSV and JSON.
``"json"``
    ``{"format": "ditherlab-postargs", "name": ..., "offsets": [[x, y], ...], ...}``.
    Exact round trip.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import Table

from ditherlab import __version__
from ditherlab._io import write_text_atomic, write_with
from ditherlab._validation import as_choice, as_int
from ditherlab.errors import DitherlabTypeError, DitherlabValueError, FileFormatError
from ditherlab.planner.patterns import Pattern

__all__ = [
    "POSTARG_FORMATS",
    "ROUNDING_TOLERANCE_PX",
    "format_apt",
    "postarg_format",
    "postarg_table",
    "read_postargs",
    "write_postarg_table",
    "write_postargs",
]

#: Largest pixel change APT rounding may make to any exposure before
#: :func:`postarg_table` refuses (unless ``force=True``): 0.05 px keeps every sub-pixel
#: phase of the families (spaced ≥ 1/4 px) well apart.
ROUNDING_TOLERANCE_PX: float = 0.05
#: Formats understood by :func:`write_postargs` and :func:`read_postargs`.
POSTARG_FORMATS: tuple[str, ...] = ("apt", "ecsv", "csv", "json")
_EXTENSIONS = {".ecsv": "ecsv", ".csv": "csv", ".json": "json", ".txt": "apt", ".apt": "apt"}
_SUFFIX = {"ecsv": ".ecsv", "csv": ".csv", "json": ".json", "apt": ".txt"}
_APT_LINE = re.compile(
    r"^\s*POS(?:ITION)?\s+TARG(?:ET)?\s+([^,\s]+)\s*,\s*([^,\s]+)\s*$", re.IGNORECASE
)


def _resolve_aperture(aperture: Any):
    from ditherlab.planner.apertures import get_aperture

    return None if aperture is None else get_aperture(aperture)


def _plain(obj: Any) -> Any:
    """Make metadata YAML/JSON friendly: tuples → lists, numpy scalars → Python."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def postarg_table(
    pattern: Pattern,
    aperture: Any = None,
    at: tuple[float, float] | None = None,
    decimals: int | None = None,
    force: bool = False,
) -> Table:
    """The POS TARG table of a pattern, with pixel steps when an aperture is given.

    Parameters
    ----------
    pattern : Pattern
        A ``"postarg"`` pattern, or a ``"pixel"`` pattern together with ``aperture``
        (converted at ``at`` with :meth:`~ditherlab.planner.Aperture.postarg_offsets`).
    aperture : Aperture or str, optional
        Aperture (or its name) the POS TARGs refer to.
    at : (x, y), optional
        Field position (0-based flt pixels) for the pixel steps; default the reference
        pixel.
    decimals : int, optional
        Round the POS TARGs to this many decimal places (as written to APT).
    force : bool, optional
        Accept a rounding that changes the pattern: one that moves any exposure by more
        than :data:`ROUNDING_TOLERANCE_PX` (at ``at`` on ``aperture``; without one, on the
        camera a named pattern was made for, else in WFC3/IR's 0.135″ pixels, the largest)
        or makes two different exposures identical.  Default False: refuse.

    Returns
    -------
    astropy.table.Table
        Columns ``exposure``, ``postarg_x``, ``postarg_y`` (arcsec) and, with an
        aperture, ``pixel_x``, ``pixel_y`` (the step in pixels at ``at`` of the *written*
        POS TARG).  ``meta["rounding_px"]`` is the largest pixel error caused by rounding.

    Raises
    ------
    DitherlabValueError
        If ``decimals`` changes the pattern (see ``force``).
    """
    if not isinstance(pattern, Pattern):
        raise DitherlabTypeError(f"pattern must be a Pattern, got {type(pattern).__name__}")
    ap = _resolve_aperture(aperture)
    if pattern.frame == "pixel":
        if ap is None:
            raise DitherlabValueError(
                f"pattern {pattern.name!r} is in pixels; pass aperture=... to convert it "
                "to POS TARG"
            )
        exact = ap.postarg_offsets(pattern, at=at)
    else:
        exact = pattern
    offsets = exact.offsets
    if decimals is not None:
        decimals = as_int("decimals", decimals, minimum=0, maximum=10)
        offsets = np.round(offsets, decimals)
    written = exact.replace(offsets=offsets)
    t = Table(
        {
            "exposure": np.arange(1, len(written) + 1),
            "postarg_x": written.offsets[:, 0] * u.arcsec,
            "postarg_y": written.offsets[:, 1] * u.arcsec,
        }
    )
    meta: dict[str, Any] = {
        "pattern": written.name,
        "frame": "postarg",
        "generator": f"ditherlab {__version__}",
    }
    if written.meta:
        meta["pattern_meta"] = _plain(dict(written.meta))
    if ap is not None:
        where = ap.reference_pixel if at is None else at
        pix = ap.pixel_offsets(written, at=at).offsets
        t["pixel_x"] = pix[:, 0] * u.pix
        t["pixel_y"] = pix[:, 1] * u.pix
        meta["aperture"] = ap.name
        meta["at"] = [float(where[0]), float(where[1])]
        exact_pix = ap.pixel_offsets(exact, at=at).offsets
        meta["rounding_px"] = float(np.max(np.hypot(*(pix - exact_pix).T)))
    if decimals is not None:
        meta["decimals"] = decimals
        if not force:
            _check_rounding(exact, written, decimals, ap, at)
    t.meta.update(meta)
    return t


#: The aperture on which a named pattern's rounding is checked when none is given.
_CAMERA_APERTURE = {
    "ACS/WFC": "JWFC",
    "ACS/HRC": "JHRCFIX",
    "ACS/SBC": "JSBCFIX",
    "WFC3/UVIS": "IUVIS",
    "WFC3/IR": "IIRFIX",
    "WFPC2": "UPC1FIX",  # the finer of WFPC2's two scales
}
#: With no aperture known at all, a rounding is refused if it moves an exposure by more
#: than the tolerance in the largest built-in HST pixel (WFC3/IR, 0.1354″ in x): that is
#: too much on every camera.
_LARGEST_PIXEL_ARCSEC = 0.1354


def _camera_aperture(pattern: Pattern):
    from ditherlab.planner.checks import pattern_camera

    name = _CAMERA_APERTURE.get(pattern_camera(pattern) or "")
    return None if name is None else _resolve_aperture(name)


def _check_rounding(exact: Pattern, written: Pattern, decimals: int, ap: Any, at: Any) -> None:
    """Refuse a rounding that merges exposures or moves one by > ROUNDING_TOLERANCE_PX.

    Measured in pixels on ``ap`` at ``at``; without an aperture, on the camera a named
    pattern was made for; else in arcsec against WFC3/IR's large pixels.
    """
    problems = []
    check = ap if ap is not None else _camera_aperture(written)
    if check is not None:
        where = at if ap is not None else None
        moved = check.pixel_offsets(written, at=where).offsets
        ref = check.pixel_offsets(exact, at=where).offsets
        rounding_px = float(np.max(np.hypot(*(moved - ref).T)))
        if rounding_px > ROUNDING_TOLERANCE_PX:
            problems.append(
                f"moves an exposure by {rounding_px:.3g} px on {check.name} "
                f"(more than {ROUNDING_TOLERANCE_PX} px)"
            )
    else:
        moved = float(np.max(np.hypot(*(written.offsets - exact.offsets).T)))
        if moved > ROUNDING_TOLERANCE_PX * _LARGEST_PIXEL_ARCSEC:
            problems.append(
                f"moves an exposure by {moved:.3g}″, more than {ROUNDING_TOLERANCE_PX} px "
                "even of WFC3/IR's large pixels"
            )
    n_exact = len(np.unique(exact.offsets, axis=0))
    n_rounded = len(np.unique(written.offsets, axis=0))
    if n_rounded < n_exact:
        problems.append(f"leaves {n_rounded} distinct pointings of {n_exact}")
    if problems:
        raise DitherlabValueError(
            f"decimals={decimals} {' and '.join(problems)}; write more decimals or pass "
            "force=True (--force) to accept it"
        )


def write_postargs(
    pattern: Pattern,
    path: str | Path,
    aperture: Any = None,
    format: str | None = None,
    overwrite: bool = False,
    at: tuple[float, float] | None = None,
    decimals: int = 4,
    force: bool = False,
) -> Table:
    """Write a pattern's POS TARG table for a Phase II proposal.

    Parameters
    ----------
    pattern : Pattern
        POS TARG pattern (or a pixel pattern with ``aperture``).
    path : str or Path
        Output file.  Its directory must exist.
    aperture : Aperture or str, optional
        Adds the pixel step of each exposure (at ``at``) and the aperture name.
    format : {"apt", "ecsv", "csv", "json"}, optional
        Default: from the extension (``.txt``/``.apt`` → apt), else ``"apt"``.
    overwrite : bool, optional
        Replace an existing file (default False: refuse).
    at : (x, y), optional
        Field position for the pixel steps (default the reference pixel).
    decimals : int, optional
        APT precision in decimal places (default 4); only the ``"apt"`` format rounds.
    force : bool, optional
        Write even if the rounding changes the pattern (see :func:`postarg_table`).

    Returns
    -------
    astropy.table.Table
        The table as written (see :func:`postarg_table`); ``meta["rounding_px"]`` gives
        the pixel error of APT rounding when an aperture is known.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    DitherlabValueError
        If APT rounding would change the pattern and ``force`` is False.
    """
    p = Path(path)
    fmt = postarg_format(p, format)
    table = postarg_table(pattern, aperture, at, decimals if fmt == "apt" else None, force)
    write_postarg_table(table, p, fmt, overwrite)
    return table


def write_postarg_table(
    table: Table, path: str | Path, format: str | None = None, overwrite: bool = False
) -> None:
    """Write a table made by :func:`postarg_table` (atomically; see :func:`write_postargs`).

    Lets a caller build and check every output first, then write them all.
    """
    p = Path(path)
    fmt = _format_for(p, format)
    if fmt == "apt":
        write_text_atomic(p, format_apt(table), overwrite)
    elif fmt == "ecsv":
        out = table.copy()
        out.meta = _plain(dict(table.meta))
        write_with(p, lambda tmp: out.write(tmp, format="ascii.ecsv", overwrite=True), overwrite)
    elif fmt == "csv":
        write_text_atomic(p, _csv_text(table), overwrite)
    else:
        write_text_atomic(p, _json_text(table), overwrite)


def postarg_format(path: str | Path, format: str | None = None) -> str:
    """The POS TARG format for ``path``: ``format`` if given, else from the extension.

    ``.ecsv``, ``.csv``, ``.json`` name themselves; anything else is APT text.  A
    ``format`` that contradicts the extension (JSON into ``box.csv``) is refused: the
    file would not read back by its name.

    Examples
    --------
    >>> postarg_format("box.csv"), postarg_format("box.txt"), postarg_format("b", "json")
    ('csv', 'apt', 'json')
    """
    p = Path(path)
    fmt = _format_for(p, format)
    named = _EXTENSIONS.get(p.suffix.lower())
    if named is not None and named != fmt:
        raise DitherlabValueError(
            f"format={format!r} contradicts the extension of {str(p)!r} ({named}); "
            f"name the file *{_SUFFIX[fmt]} or leave the format out"
        )
    return fmt


def _format_for(path: Path, format: str | None) -> str:
    if format is not None:
        return as_choice("format", format, POSTARG_FORMATS)
    return _EXTENSIONS.get(path.suffix.lower(), "apt")


def _header_lines(table: Table) -> list[str]:
    m = table.meta
    lines = [f"{m['generator']} POS TARG table", f"pattern: {m['pattern']}"]
    if "aperture" in m:
        x, y = m["at"]
        lines.append(f"aperture: {m['aperture']}; pixel steps at (x, y) = ({x:.1f}, {y:.1f})")
    if "decimals" in m:
        msg = f"precision: {m['decimals']} decimals (arcsec)"
        if "rounding_px" in m:
            msg += f"; largest rounding error {m['rounding_px']:.4f} px"
        lines.append(msg)
    return lines


def _unsigned_zero(value: float, decimals: int) -> float:
    """``value`` rounded to ``decimals`` places, with -0 made 0 (so it prints ``0.000``).

    Examples
    --------
    >>> f"{_unsigned_zero(-0.0001, 3):+.3f}", f"{_unsigned_zero(-0.0006, 3):+.3f}"
    ('+0.000', '-0.001')
    """
    return round(float(value), decimals) + 0.0  # -0.0 + 0.0 is +0.0


def format_apt(table: Table) -> str:
    """APT text (``POS TARG x,y`` lines with ``#`` comments) for a :func:`postarg_table`.

    Values are printed with ``table.meta["decimals"]`` places (4 if absent).
    """
    decimals = int(table.meta.get("decimals", 4))
    out = [f"# {line}" for line in _header_lines(table)]
    has_pix = "pixel_x" in table.colnames
    for row in table:
        x = _unsigned_zero(row["postarg_x"], decimals)
        y = _unsigned_zero(row["postarg_y"], decimals)
        line = f"POS TARG {x:.{decimals}f},{y:.{decimals}f}"
        if has_pix:
            px, py = _unsigned_zero(row["pixel_x"], 3), _unsigned_zero(row["pixel_y"], 3)
            out.append(f"# exposure {row['exposure']}: step ({px:+.3f}, {py:+.3f}) px")
        out.append(line)
    return "\n".join(out) + "\n"


def _csv_text(table: Table) -> str:
    buf = io.StringIO()
    names = ["exposure", "postarg_x_arcsec", "postarg_y_arcsec"]
    cols = ["exposure", "postarg_x", "postarg_y"]
    if "pixel_x" in table.colnames:
        names += ["pixel_x", "pixel_y"]
        cols += ["pixel_x", "pixel_y"]
    aperture = table.meta.get("aperture")
    if aperture is not None:
        names.append("aperture")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in table:
        values = [int(row["exposure"]), *(repr(float(row[c])) for c in cols[1:])]
        w.writerow(values + ([aperture] if aperture is not None else []))
    return buf.getvalue()


def _json_text(table: Table) -> str:
    doc = {
        "format": "ditherlab-postargs",
        "version": 1,
        "unit": "arcsec",
        "name": table.meta["pattern"],
        "offsets": [[float(r["postarg_x"]), float(r["postarg_y"])] for r in table],
        "meta": _plain({k: v for k, v in table.meta.items() if k != "pattern"}),
    }
    if "pixel_x" in table.colnames:
        doc["pixel_steps"] = [[float(r["pixel_x"]), float(r["pixel_y"])] for r in table]
    return json.dumps(doc, indent=2) + "\n"


def read_postargs(path: str | Path, format: str | None = None) -> Pattern:
    """Read a POS TARG table written by :func:`write_postargs` (or typed by hand).

    Parameters
    ----------
    path : str or Path
        The file.
    format : {"apt", "ecsv", "csv", "json"}, optional
        Default: from the extension (anything unknown is read as APT text).

    Returns
    -------
    Pattern
        Frame ``"postarg"``; ``meta`` carries what the file recorded (aperture, ...).

    Raises
    ------
    FileFormatError
        If the file cannot be parsed; the message names the file and the line.
    FileNotFoundError
        If ``path`` does not exist.
    DitherlabTypeError
        If ``path`` is not a str or path-like.
    """
    if not isinstance(path, str | os.PathLike):
        raise DitherlabTypeError(
            f"path={path!r} must be a file name (str or path-like), not {type(path).__name__}"
        )
    p = Path(path)
    if p.is_dir():
        raise FileFormatError(f"path={str(p)!r} is a directory, not a POS TARG table")
    if not p.is_file():
        raise FileNotFoundError(f"path={str(p)!r} does not exist")
    fmt = _format_for(p, format)
    reader = {"apt": _read_apt, "ecsv": _read_ecsv, "csv": _read_csv, "json": _read_json}[fmt]
    return reader(p)


def _comment(line: str, meta: dict[str, Any]) -> None:
    """Pick the pattern name and aperture out of a ``#`` header line written by us."""
    body = line.lstrip("#").strip()
    if body.startswith("pattern:"):
        meta["name"] = body.split(":", 1)[1].strip()
    elif body.startswith("aperture:"):
        meta["aperture"] = body.split(":", 1)[1].split(";")[0].strip()


def _data_lines(p: Path, meta: dict[str, Any]):
    """Yield ``(lineno, line, raw)`` for the non-blank, non-comment lines of a text table.

    ``#`` comment lines are read for the pattern name and aperture (into ``meta``).
    """
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(
            f"{p}: not a text POS TARG table (binary content; FITS files are not POS TARG "
            "tables)"
        ) from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            _comment(line, meta)
        elif line:
            yield lineno, line, raw


def _read_apt(p: Path) -> Pattern:
    offsets, meta = [], {}
    for lineno, line, raw in _data_lines(p, meta):
        m = _APT_LINE.match(line)
        if m is None:
            raise FileFormatError(
                f"{p}: line {lineno}: expected 'POS TARG <x>,<y>' (arcsec), got {_short(raw)}"
            )
        offsets.append([_number(p, lineno, m.group(1)), _number(p, lineno, m.group(2))])
    if not offsets:
        raise FileFormatError(f"{p}: no 'POS TARG x,y' lines found")
    name = meta.pop("name", "")
    return Pattern(offsets, frame="postarg", name=name, meta=meta)


def _short(text: str, limit: int = 60) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters so an error stays one short line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text)} chars)"


def _number(p: Path, lineno: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FileFormatError(f"{p}: line {lineno}: {_short(text)} is not a number") from None
    if not math.isfinite(value):
        raise FileFormatError(f"{p}: line {lineno}: {_short(text)} is not finite")
    return value


def _read_ecsv(p: Path) -> Pattern:
    try:
        t = Table.read(p, format="ascii.ecsv")
    except Exception as exc:  # astropy raises several types for a broken file
        raise FileFormatError(
            f"{p}: not a readable ECSV table ({_short(str(exc), 120)})"
        ) from None
    for col in ("postarg_x", "postarg_y"):
        if col not in t.colnames:
            raise FileFormatError(f"{p}: ECSV table has no {col!r} column (has {t.colnames})")
    cols = []
    for col in ("postarg_x", "postarg_y"):
        try:
            cols.append(u.Quantity(t[col], u.arcsec).value if t[col].unit else t[col])
        except (u.UnitConversionError, TypeError, ValueError):
            raise FileFormatError(
                f"{p}: column {col!r} has unit {t[col].unit}, not an angle (arcsec)"
            ) from None
    offs = np.column_stack([np.asarray(c, float) for c in cols])
    if not np.all(np.isfinite(offs)):
        bad = int(np.argwhere(~np.isfinite(offs))[0][0])
        raise FileFormatError(f"{p}: row {bad + 1} has a non-finite POS TARG")
    meta = {k: v for k, v in t.meta.items() if k not in ("pattern", "frame")}
    return Pattern(offs, frame="postarg", name=str(t.meta.get("pattern", "")), meta=meta)


def _read_csv(p: Path) -> Pattern:
    meta, rows, header, apertures, iap = {}, [], None, set(), None
    for lineno, line, _raw in _data_lines(p, meta):
        fields = next(csv.reader([line]))
        if header is None:
            header = [f.strip() for f in fields]
            try:
                ix = header.index("postarg_x_arcsec")
                iy = header.index("postarg_y_arcsec")
            except ValueError:
                raise FileFormatError(
                    f"{p}: line {lineno}: header must name postarg_x_arcsec and "
                    f"postarg_y_arcsec, got {_short(line)}"
                ) from None
            iap = header.index("aperture") if "aperture" in header else None
            continue
        if len(fields) != len(header):
            raise FileFormatError(
                f"{p}: line {lineno}: {len(fields)} fields, header has {len(header)}"
            )
        rows.append([_number(p, lineno, fields[ix]), _number(p, lineno, fields[iy])])
        if iap is not None:
            apertures.add(fields[iap].strip())
    if len(apertures) > 1:
        raise FileFormatError(f"{p}: rows name different apertures {sorted(apertures)}")
    if apertures:
        meta["aperture"] = apertures.pop()
    if not rows:
        raise FileFormatError(f"{p}: no data rows")
    name = meta.pop("name", "")
    return Pattern(rows, frame="postarg", name=name, meta=meta)


def _read_json(p: Path) -> Pattern:
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FileFormatError(f"{p}: not a text (JSON) POS TARG table") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{p}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or "offsets" not in doc:
        raise FileFormatError(f"{p}: expected an object with an 'offsets' list")
    if doc.get("unit", "arcsec") != "arcsec":
        raise FileFormatError(f"{p}: unit={doc.get('unit')!r}, expected 'arcsec'")
    try:
        offs = np.asarray(doc["offsets"], dtype=float)
    except (TypeError, ValueError):
        raise FileFormatError(f"{p}: 'offsets' must be a list of [x, y] numbers") from None
    if offs.ndim != 2 or offs.shape[1] != 2 or len(offs) == 0:
        raise FileFormatError(f"{p}: 'offsets' must be a non-empty list of [x, y] pairs")
    if not np.all(np.isfinite(offs)):
        bad = int(np.argwhere(~np.isfinite(offs))[0][0])
        raise FileFormatError(f"{p}: offsets[{bad}] is not finite")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise FileFormatError(f"{p}: 'meta' must be an object, got {type(meta).__name__}")
    return Pattern(offs, frame="postarg", name=str(doc.get("name", "")), meta=meta)
