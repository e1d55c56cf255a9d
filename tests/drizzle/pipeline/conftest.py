"""Fixtures shared by the pipeline tests that run drizzlepac's AstroDrizzle beside ours."""

import pytest
from _stacks import bench


@pytest.fixture(scope="module")
def adz_python():
    """The interpreter with drizzlepac (never a ditherlab dependency); skip without one."""
    py = bench().astrodrizzle_python()
    if py is None:
        pytest.skip("drizzlepac not found (set DITHERLAB_ASTRODRIZZLE_PYTHON)")
    return py
