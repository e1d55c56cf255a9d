"""Safe file writing: never half-written, never overwritten unless asked.

* :func:`check_writable`, :func:`atomic_path`, :func:`write_with`: one file, written to a
  temporary name and renamed;
* :func:`write_all_or_nothing`: several command-line outputs (``-o`` and ``--plot``), all
  checked before any is written, and all renamed into place only once every one is ready;
* :func:`check_stem`: a file-name stem from the user that cannot leave its folder;
* :func:`check_output_dir`, :func:`check_disk_space`: refuse an output folder that cannot
  be written, or a run that cannot fit on its disk, *before* the work;
* :class:`RunOutput`: the files of one run (e.g. ``simulate``'s exposures), staged and
  moved into the folder together, with a manifest so that a later ``overwrite`` run can
  remove what this one wrote and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ditherlab.errors import DitherlabTypeError, DitherlabValueError, OutputExistsError

__all__ = [
    "RunOutput",
    "atomic_path",
    "check_disk_space",
    "check_output_dir",
    "check_stem",
    "check_writable",
    "write_all_or_nothing",
    "write_text_atomic",
    "write_with",
]

#: A file-name stem: starts with a letter, digit or ``_``; then also ``.``, ``+``, ``-``.
#: No separators, so no stem can name a file outside its folder ("..", "/", "\\", "~").
_STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def check_writable(path: str | os.PathLike[str], overwrite: bool, name: str = "path") -> Path:
    """Return ``path`` as a Path, refusing an existing file unless ``overwrite``."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{name}={str(p)!r} exists; pass overwrite=True to replace it")
    if p.is_dir():
        raise OutputExistsError(f"{name}={str(p)!r} is a directory")
    if not p.parent.exists():
        raise FileNotFoundError(f"{name}={str(p)!r}: directory {str(p.parent)!r} does not exist")
    return p


def temp_beside(final: Path, name: str = "path") -> Path:
    """Create an empty temporary file beside ``final`` (``.<name>.XXXX.part``).

    Raises
    ------
    OutputNotWritableError
        The folder does not take new files (it is not a folder, or is read-only); the
        message names ``final``, not the temporary name.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    except OSError as exc:  # name the user's path, not the temporary one
        from ditherlab.errors import OutputNotWritableError

        raise OutputNotWritableError(
            f"{name}={str(final)!r} cannot be written: cannot create files in "
            f"{str(final.parent)!r} ({exc.strerror or type(exc).__name__})"
        ) from None
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], overwrite: bool = False, name: str = "path"
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is untouched, so a
    failed run never leaves a half-written product.
    """
    final = check_writable(path, overwrite, name)
    tmp_path = temp_beside(final, name)
    try:
        yield tmp_path
        _set_mode(tmp_path, final)
        if final.exists() and not overwrite:  # appeared while we were writing
            raise OutputExistsError(
                f"{name}={str(final)!r} appeared while writing; pass overwrite=True to replace it"
            )
        os.replace(tmp_path, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _set_mode(tmp: Path, final: Path) -> None:
    """Give the new file the mode a plain ``open(..., "w")`` would have.

    ``mkstemp`` creates files readable by the owner only; keep an existing file's mode, or
    apply the process umask to 0o666 for a new one.
    """
    if final.exists():
        mode = final.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def write_text_atomic(
    path: str | os.PathLike[str], text: str, overwrite: bool = False, name: str = "path"
) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, overwrite, name) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_with(
    path: str | os.PathLike[str],
    writer: Callable[[Path], None],
    overwrite: bool = False,
    name: str = "path",
) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result to ``path``.

    ``tmp_path`` already exists (empty) when ``writer`` is called, so writers such as
    :meth:`astropy.io.fits.HDUList.writeto` must be told to overwrite it.
    """
    with atomic_path(path, overwrite, name) as tmp:
        writer(tmp)
    return Path(path)


def write_all_or_nothing(
    outputs: list[tuple[str, str | os.PathLike[str], Callable[[Path], None]]],
    overwrite: bool = False,
) -> list[Path]:
    """Write several command-line outputs so that either all of them appear or none does.

    Every output is checked first (exists without ``--overwrite``, is a directory, its
    directory missing or not writable: probed by creating the temporary file there), then
    each ``writer(tmp_path)`` fills its temporary file, and only when all have succeeded
    are they renamed into place.  Messages name the user's flag and path.

    Parameters
    ----------
    outputs : list of (flag, path, writer)
        ``flag`` is the option that named the file (``"-o"``, ``"--plot"``), for messages;
        ``writer`` receives the (existing, empty) temporary path.
    overwrite : bool, optional
        Replace existing files (``--overwrite``).

    Returns
    -------
    list of Path
        The written files.
    """
    finals = []
    for flag, path, _ in outputs:
        p = Path(path)
        if p.is_dir():
            raise OutputExistsError(f"{flag} {str(p)!r} is a directory")
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{flag} {str(p)!r} exists; pass --overwrite to replace it")
        if not p.parent.is_dir():
            raise FileNotFoundError(
                f"{flag} {str(p)!r}: directory {str(p.parent)!r} does not exist"
            )
        if p.resolve() in [f.resolve() for f in finals]:
            raise OutputExistsError(f"{flag} {str(p)!r} is named by two options")
        finals.append(p)
    tmps: list[Path] = []
    try:
        for (flag, _, _), final in zip(outputs, finals, strict=True):
            try:
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{final.name}.", suffix=".part", dir=final.parent
                )
            except OSError as exc:
                raise PermissionError(
                    f"{flag} {str(final)!r}: cannot write in directory {str(final.parent)!r} "
                    f"({exc.strerror})"
                ) from None
            os.close(fd)
            tmps.append(Path(tmp))
        for (_, _, writer), tmp in zip(outputs, tmps, strict=True):
            writer(tmp)
        for tmp, final in zip(tmps, finals, strict=True):
            _set_mode(tmp, final)
            os.replace(tmp, final)
    finally:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return finals


def check_stem(value: Any, name: str = "rootname") -> str:
    """Return ``value`` if it is a plain file-name stem, which cannot leave its folder.

    Letters, digits, ``_``, ``.``, ``+`` and ``-``, not starting with ``.``, ``+`` or
    ``-``: no path separator, no ``..``, no hidden or option-like names.

    Examples
    --------
    >>> check_stem("j8abc0")
    'j8abc0'
    >>> check_stem("../escape")
    Traceback (most recent call last):
    ...
    ditherlab.errors.DitherlabValueError: rootname='../escape' must be a plain file-name stem ...
    """
    if not isinstance(value, str):
        raise DitherlabTypeError(f"{name}={value!r} must be a string")
    if len(value) > 200 or not _STEM.fullmatch(value):
        raise DitherlabValueError(
            f"{name}={value!r} must be a plain file-name stem (letters, digits, _ . + -; "
            "no '/' or '..'): every file must stay in the output directory"
        )
    return value


def _nearest_existing(path: Path, name: str) -> Path:
    """The deepest existing ancestor of ``path`` (``path`` itself if it exists): a directory."""
    p = Path(os.path.abspath(path))
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                what = "is not a directory" if q == p else f"cannot be made: {str(q)!r} is a file"
                raise OutputExistsError(f"{name}={str(path)!r} {what}")
            return q
    raise DitherlabValueError(f"{name}={str(path)!r} has no existing parent")  # pragma: no cover


def check_output_dir(path: str | os.PathLike[str], name: str = "outdir") -> Path:
    """Check, before any work, that files can be written into the directory ``path``.

    ``path`` need not exist yet (the run creates it): then its nearest existing ancestor
    must be a directory in which a directory can be created.  The check *tries*: it
    creates and removes a hidden probe, so it sees what permission bits do not show
    (read-only file systems, ACLs, root).  Nothing is left behind.

    Raises
    ------
    OutputNotWritableError
        Naming ``path`` and the reason, e.g. ``outdir='/data/ro' is not writable: cannot
        create files in '/data/ro' (Permission denied)``.
    OutputExistsError
        If ``path`` or one of its ancestors is a file.
    """
    from ditherlab.errors import OutputNotWritableError

    p = Path(path)
    base = _nearest_existing(p, name)
    try:
        if base == Path(os.path.abspath(p)):
            fd, probe = tempfile.mkstemp(prefix=".ditherlab-probe-", dir=base)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".ditherlab-probe-", dir=base))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputNotWritableError(
            f"{name}={str(p)!r} is not writable: cannot create files in {str(base)!r} "
            f"({reason})"
        ) from None
    return p


def check_disk_space(path: str | os.PathLike[str], nbytes: float, name: str = "outdir") -> None:
    """Refuse, before the work, a run whose files (``nbytes``) do not fit on the disk."""
    from ditherlab.errors import ResourceLimitError

    base = _nearest_existing(Path(path), name)
    free = shutil.disk_usage(base).free
    if nbytes > free:
        raise ResourceLimitError(
            f"{name}={str(path)!r}: the run would write {_human(nbytes)} but its disk has "
            f"{_human(free)} free"
        )


def _human(nbytes: float) -> str:
    """``1.5 GiB`` style sizes (binary units, as ``free -h`` prints them)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.3g} {unit}"
        nbytes /= 1024.0
    raise AssertionError  # pragma: no cover


def _manifest(path: Path) -> dict[str, Any] | None:
    """A ditherlab run manifest read from ``path``, or None if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("ditherlab_manifest") != 1:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return data


class RunOutput:
    """The files of one run, written into ``outdir`` as a unit, with a manifest.

    The run writes its files into a hidden staging directory inside ``outdir`` (the path
    the ``with`` block receives); only when the block succeeds are they moved into place,
    after the earlier run's files that this run does not replace are removed, and the
    manifest ``{stem}_manifest.json`` (listing the files) is written last.  A failed run
    leaves ``outdir`` as it was.

    So that the folder holds one consistent run, files that match ``claims`` (the names a
    run of this stem writes, e.g. every ``dlsimNN_flt.fits``) are handled thus:

    * the run's own names: refused if they exist, unless ``overwrite``;
    * listed in the previous manifest of this stem, not written again: removed (only
      with ``overwrite``; without it the manifest itself exists and the run is refused);
    * listed in another run's manifest in the same folder: left alone (another stem);
    * any other (a file no manifest accounts for): the run is refused, naming them,
      since a glob such as ``*_flt.fits`` would mix them with this run.

    Parameters
    ----------
    outdir : path-like
        The output directory (created if needed).
    stem : str
        The run's file-name stem (checked with :func:`check_stem`).
    names : iterable of str
        Plain file names the run will write (the manifest is added).
    claims : str
        Regular expression (full match) of the names a run of this stem may write.
    overwrite : bool
        Replace an earlier run of this stem.
    record : mapping, optional
        JSON-serialisable facts stored in the manifest (command, parameters, seed).
        Keep them deterministic: the same run must give the same bytes.
    name : str
        The argument name used in messages (``outdir``).
    """

    def __init__(
        self,
        outdir: str | os.PathLike[str],
        stem: str,
        names: Iterable[str],
        *,
        claims: str,
        overwrite: bool = False,
        record: Mapping[str, Any] | None = None,
        name: str = "outdir",
    ) -> None:
        self.outdir = Path(outdir)
        self.stem = check_stem(stem, "rootname")
        self.manifest_name = f"{stem}_manifest.json"
        self.names = [*names, self.manifest_name]
        for n in self.names:
            if Path(n).name != n or n in (".", ".."):
                raise DitherlabValueError(f"output name {n!r} must be a plain file name")
        self.claims = re.compile(claims)
        self.overwrite = bool(overwrite)
        self.record = dict(record or {})
        self.argname = name
        self._stale: list[str] = []
        self._created = False
        self._staging: Path | None = None

    def check(self) -> None:
        """Every refusal, before any work: unwritable folder, existing or foreign files."""
        out = self.outdir
        check_output_dir(out, self.argname)
        if not out.is_dir():
            self._stale = []
            return
        existing = [n for n in self.names if (out / n).exists()]
        if existing and not self.overwrite:
            raise OutputExistsError(
                f"{str(out / existing[0])!r} exists"
                + (f" (and {len(existing) - 1} more of the run's files)" if existing[1:] else "")
                + "; pass --overwrite (overwrite=True) to replace the earlier run"
            )
        for n in existing:
            if (out / n).is_dir():
                raise OutputExistsError(f"{str(out / n)!r} is a directory")
        old = _manifest(out / self.manifest_name)
        ours = set(old["files"]) if old is not None else set()
        others: set[str] = set()
        for m in out.glob("*_manifest.json"):
            if m.name != self.manifest_name and (data := _manifest(m)) is not None:
                others.update(data["files"])
        new = set(self.names)
        stale, foreign = [], []
        for f in sorted(p.name for p in out.iterdir() if p.is_file()):
            if f in new or not self.claims.fullmatch(f):
                continue
            if f in ours:
                stale.append(f)
            elif f not in others:
                foreign.append(f)
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise OutputExistsError(
                f"{self.argname}={str(out)!r} holds {foreign[0]!r}{more}, named like this "
                f"run's files (rootname {self.stem!r}) but not written by it and listed in no "
                f"ditherlab manifest there: a glob would mix them with this run; remove "
                f"them, or choose another outdir or rootname"
            )
        self._stale = stale

    def __enter__(self) -> Path:
        self.check()
        self._created = not self.outdir.exists()
        self.outdir.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.stem}.run-", dir=self.outdir))
        return self._staging

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        staging = self._staging
        assert staging is not None
        try:
            if exc_type is None:
                self._commit(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if exc_type is not None and self._created:
                with contextlib.suppress(OSError):
                    self.outdir.rmdir()  # only if empty: what this run created

    def _commit(self, staging: Path) -> None:
        missing = [n for n in self.names[:-1] if not (staging / n).is_file()]
        if missing:
            raise DitherlabValueError(f"the run did not write {missing[0]!r} (internal error)")
        manifest = {
            "ditherlab_manifest": 1,
            "rootname": self.stem,
            "files": sorted(self.names),
            **self.record,
        }
        (staging / self.manifest_name).write_text(
            json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        for n in self._stale:  # the earlier run's files this one does not replace
            (self.outdir / n).unlink(missing_ok=True)
        for n in self.names:  # the manifest last: it vouches for the files before it
            os.replace(staging / n, self.outdir / n)
