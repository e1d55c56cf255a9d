"""Exceptions and warnings raised by ditherlab.

Every error derives from :class:`DitherlabError` *and* from the matching builtin, so
``except ValueError`` keeps working for callers that do not know about ditherlab, while
``except DitherlabError`` catches everything the package raises on purpose.

Messages name the offending argument and repeat the value that was given, e.g.
``npoints=5 is not one of (2, 3, 4, 6, 8, 9)``.
"""

from __future__ import annotations

__all__ = [
    "ApertureNotFoundError",
    "DitherlabError",
    "DitherlabTypeError",
    "DitherlabValueError",
    "DitherlabWarning",
    "DrizzleStateError",
    "FileFormatError",
    "MissingDependencyError",
    "OffChipError",
    "OutputExistsError",
    "OutputNotWritableError",
    "OutputTooLargeError",
    "PatternNotFoundError",
    "ResourceLimitError",
]


class DitherlabError(Exception):
    """Base class of every exception ditherlab raises on purpose."""


class DitherlabValueError(DitherlabError, ValueError):
    """An argument has the right type but a value outside what is allowed."""


class DitherlabTypeError(DitherlabError, TypeError):
    """An argument has a type ditherlab cannot use."""


class ApertureNotFoundError(DitherlabError, LookupError):
    """No aperture of that name is known; the message suggests close names."""


class PatternNotFoundError(DitherlabError, LookupError):
    """No named pattern of that name is known; the message suggests close names."""


class OffChipError(DitherlabValueError):
    """A requested field position lies outside the detector."""


class FileFormatError(DitherlabError, ValueError):
    """A file could not be parsed; the message names the file and the line."""


class OutputExistsError(DitherlabError, FileExistsError):
    """An output file exists and ``overwrite`` was not requested."""


class OutputNotWritableError(DitherlabError, PermissionError):
    """Files cannot be created in the output directory (checked before the work)."""


class ResourceLimitError(DitherlabValueError):
    """A run would need more memory (or disk) than its limit; the message says how much.

    Raised before the work starts.  The memory limit can be raised (``max_memory=``,
    ``--max-memory``).
    """


class MissingDependencyError(DitherlabError, ImportError):
    """An optional dependency is needed for this call and is not installed."""


class DrizzleStateError(DitherlabError, RuntimeError):
    """A ``Drizzle`` cannot take more images: an earlier add was interrupted part-way.

    Its outputs hold part of the interrupted image; start a new ``Drizzle``.
    """


class DitherlabWarning(UserWarning):
    """Something works, but probably not as the user intended."""


class OutputTooLargeError(ResourceLimitError, MemoryError):
    """The output arrays asked for would not fit in memory (checked before allocating them).

    A :class:`ResourceLimitError`, and also a ``MemoryError``, so code that catches numpy's
    own allocation failure keeps working.
    """
