"""Memory limits: refuse, before the work, a run that would not fit in memory.

The default limit is a fraction of the machine: half its physical memory, and at most
80 % of the memory the kernel reports available now (``MemAvailable`` on Linux), so that
a run that would be killed part-way (or push the machine into swap) is refused at once,
with the estimate, the limit and the option that raises it.
"""

from __future__ import annotations

import os
from typing import Any

from ditherlab._io import _human
from ditherlab.errors import ResourceLimitError

__all__ = ["check_memory", "default_memory_limit", "memory_limit"]

#: Used when the machine's memory cannot be read.
_FALLBACK_LIMIT = 8 * 2**30


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_memory_limit() -> tuple[int, str]:
    """``(bytes, how it was chosen)``: half the physical memory, ≤ 80 % of what is free."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _FALLBACK_LIMIT, "the default 8 GiB (machine memory unknown)"
    limit, why = total // 2, f"half of this machine's {_human(total)}"
    avail = _meminfo("MemAvailable")
    if avail is not None and 0.8 * avail < limit:
        limit, why = int(0.8 * avail), f"80 % of the {_human(avail)} available now"
    return int(limit), why


def memory_limit(max_memory: Any, name: str = "max_memory") -> tuple[float, str]:
    """``(bytes, description)`` of a ``max_memory`` argument.

    None gives :func:`default_memory_limit`; a number is bytes; an astropy Quantity in
    information units (``8 * u.GiB``) is converted; ``float("inf")`` switches the check off.
    """
    if max_memory is None:
        return default_memory_limit()
    from astropy import units as u

    from ditherlab._validation import as_float, strip_unit

    raw = strip_unit(max_memory, u.byte, name)
    if isinstance(raw, float | int) and raw == float("inf"):
        return float("inf"), "no limit"
    nbytes = as_float(name, max_memory, unit=u.byte, minimum=0.0, min_inclusive=False)
    return nbytes, f"set by {name}"


def check_memory(
    estimate: float,
    max_memory: Any,
    what: str,
    hint: str,
    name: str = "max_memory",
    raise_with: str | None = None,
) -> None:
    """Raise :class:`~ditherlab.errors.ResourceLimitError` if ``estimate`` bytes exceed the limit.

    ``what`` says what would take the memory; ``hint`` how to need less; ``raise_with``
    how to raise the limit (default ``max_memory=`` in bytes or an astropy Quantity).
    """
    limit, why = memory_limit(max_memory, name)
    if estimate > limit:
        raise ResourceLimitError(
            f"{what} would need about {_human(estimate)} of memory, more than the limit of "
            f"{_human(limit)} ({why}); {hint}, or raise the limit with "
            + (raise_with or f"{name}= (bytes, or e.g. 8 * u.GiB)")
        )
