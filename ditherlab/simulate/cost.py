"""What a simulation costs in memory and disk, known before it runs.

:func:`simulation_cost` answers "will this fit?" for a pattern, an aperture and a scene
(or just a number of sources) without simulating anything; :func:`~ditherlab.simulate.observe`,
:func:`~ditherlab.simulate.iter_observe` and ``ditherlab simulate`` use the same model to
refuse, before any work, a run that would exceed the memory limit or the free disk.

The model counts the arrays the simulator allocates (bytes per pixel or per source) and
was calibrated against measured peaks (``tracemalloc`` + peak RSS, numpy 2.4,
December 2026):

==========================================  ============  =========
run                                         model         measured
==========================================  ============  =========
ACS/WFC both chips, 2 exposures, streaming  1.02 GiB      1.00 GiB
(``ditherlab simulate``, files written)
ACS/WFC both chips, 4 exposures, observe()  2.04 GiB      2.00 GiB
64 × 64 px, 3 000 000 sources               1.27 GiB      1.25 GiB
==========================================  ============  =========
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ditherlab._io import _human

__all__ = ["SimulationCost", "simulation_cost"]

#: Interpreter, numpy, scipy and astropy once imported (peak RSS − traced arrays).
BASELINE_BYTES = 150 * 2**20
#: Defect maps, held for the whole call over each *full* chip: uint8 code + float32
#: rate + float32 bad-column charge.
DEFECT_BYTES_PER_PX = 9
#: One exposure in memory per simulated pixel: sci, err float32, dq uint16; truth
#: noiseless, cr_charge, dark float32, defects uint8.
EXPOSURE_BYTES_PER_PX = 23
#: Working arrays of the chip being simulated (float64 image, Poisson / read-noise
#: draws, cosmic rays, masks), per pixel of the largest chip.
WORK_BYTES_PER_PX = 40
#: A source: its scene columns (~90 B) plus the positions, stamps' bookkeeping and
#: temporaries while it is projected onto each chip (measured 333-352 B).
SOURCE_BYTES = 350
#: FITS headers per extension (a few 2880-byte blocks; SCI carries the SIP cards).
HEADER_BYTES = 4 * 2880


def memory_bytes(
    scene: Any, full: Sequence[int], cut: Sequence[int], held: int, write: float = 0.0
) -> float:
    """Peak bytes of a simulation, with ``held`` exposures kept in memory.

    ``scene`` is a Scene or a number of sources; ``full`` the pixels of each chip
    simulated, ``cut`` the pixels simulated on each (after any sub-array); ``write`` the
    bytes that writing one exposure adds (:func:`write_bytes`).
    """
    nsrc = scene if isinstance(scene, int | np.integer) else len(scene)
    return float(
        BASELINE_BYTES
        + SOURCE_BYTES * int(nsrc)
        + DEFECT_BYTES_PER_PX * sum(full)
        + EXPOSURE_BYTES_PER_PX * sum(cut) * max(int(held), 1)
        + WORK_BYTES_PER_PX * max(cut, default=0)
        + write
    )


def write_bytes(chip_aps: Sequence[Any], cut: Sequence[int]) -> float:
    """Memory that :func:`~ditherlab.simulate.write_exposure` adds for one exposure."""
    from ditherlab.simulate.io import _write_bytes_per_pixel

    total, copy = 0.0, 0.0
    for c, n in zip(chip_aps, cut, strict=True):
        new, item = _write_bytes_per_pixel(str(c.instrument), str(c.detector))
        total += new * n
        copy = max(copy, item * n)
    return total + copy


@dataclasses.dataclass(frozen=True)
class SimulationCost:
    """Estimated cost of simulating a pattern (from :func:`simulation_cost`).

    Attributes
    ----------
    n_exposures : int
        Exposures (pattern steps).
    pixels : int
        Pixels simulated per exposure (all chips, after any sub-array).
    memory_streaming : float
        Peak bytes with :func:`~ditherlab.simulate.iter_observe`, each exposure written
        (:func:`~ditherlab.simulate.write_exposure`) and dropped before the next, as
        ``ditherlab simulate`` runs.
    memory_all : float
        Peak bytes with :func:`~ditherlab.simulate.observe` (all exposures kept, none
        written yet).
    disk : float
        Bytes of the ``*_flt.fits`` and ``*_truth.fits`` files of all exposures.
    """

    n_exposures: int
    pixels: int
    memory_streaming: float
    memory_all: float
    disk: float

    def __str__(self) -> str:
        return (
            f"{self.n_exposures} exposures of {self.pixels} px: memory "
            f"{_human(self.memory_streaming)} streaming (iter_observe), "
            f"{_human(self.memory_all)} all kept (observe); disk {_human(self.disk)}"
        )


def simulation_cost(
    scene: Any,
    pattern: Any,
    aperture: Any,
    *,
    chips: Sequence[int] | None = None,
    subarray: Any = None,
) -> SimulationCost:
    """Estimate the memory and disk a simulation would take, without running it.

    Parameters
    ----------
    scene : Scene or int
        The scene, or its number of sources.
    pattern, aperture, chips, subarray
        As for :func:`~ditherlab.simulate.observe`.

    Examples
    --------
    >>> from ditherlab.planner import subpixel
    >>> c = simulation_cost(500, subpixel(4), "acs-wfc")
    >>> c.pixels, round(c.disk / 2**20)  # two 2048 x 4096 chips; 4 x (flt + truth)
    (16777216, 1473)
    >>> round(c.memory_streaming / 2**30, 2), round(c.memory_all / 2**30, 2)
    (1.02, 2.04)
    """
    from ditherlab._validation import as_int
    from ditherlab.simulate.io import _file_bytes_per_pixel
    from ditherlab.simulate.observe import (
        _select_chips,
        _subarrays,
        pattern_postargs,
        resolve_aperture,
    )
    from ditherlab.simulate.scene import Scene

    nsrc = len(scene) if isinstance(scene, Scene) else as_int("scene", scene, minimum=0)
    ap = resolve_aperture(aperture)
    nexp = len(pattern_postargs(pattern, ap))
    chip_aps = _select_chips(ap, chips)
    cuts = _subarrays(chip_aps, subarray)
    full = [int(np.prod(c.shape)) for c in chip_aps]
    cut = [sy * sx for _, (sy, sx) in cuts]
    disk = 0.0
    for c, n in zip(chip_aps, cut, strict=True):
        flt, truth = _file_bytes_per_pixel(str(c.instrument), str(c.detector))
        disk += (flt + truth) * n + 7 * HEADER_BYTES
    disk = nexp * (disk + 2 * HEADER_BYTES)  # + the two primary headers
    return SimulationCost(
        n_exposures=nexp,
        pixels=int(sum(cut)),
        memory_streaming=memory_bytes(nsrc, full, cut, 1, write_bytes(chip_aps, cut)),
        memory_all=memory_bytes(nsrc, full, cut, nexp),
        disk=float(disk),
    )
