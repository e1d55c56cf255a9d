"""Safe file writing: never half-written, never overwritten unless asked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ditherlab.errors import OutputExistsError

__all__ = [
    "atomic_path",
    "check_writable",
    "write_all_or_nothing",
    "write_text_atomic",
    "write_with",
]


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


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], overwrite: bool = False, name: str = "path"
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is untouched, so a
    failed run never leaves a half-written product.
    """
    final = check_writable(path, overwrite, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
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
