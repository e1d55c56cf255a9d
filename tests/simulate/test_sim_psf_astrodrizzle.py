"""AstroDrizzle (drizzlepac) on a simulated 4-point ACS/WFC stack with the default PSF.

drizzlepac is never a ditherlab dependency: the measurement runs in a subprocess with an
interpreter that has it, named by ``DITHERLAB_ADZ_PYTHON`` or ``/work/venv-adz/bin/python``
when that exists; otherwise the tests skip.  The measurement is
``benchmarks/psf_astrodrizzle.py`` (1024² cut-outs per chip, so that the flux is a median
over ~20 bright stars: on 512² its 5-7 stars scatter by ~0.7 % between seeds; minmed,
updatewcs=False, driz_sep_bits = final_bits = 336), ~1-2 min, hence ``slow``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _interpreter():
    exe = os.environ.get("DITHERLAB_ADZ_PYTHON") or "/work/venv-adz/bin/python"
    if not Path(exe).is_file():
        return None
    ok = subprocess.run([exe, "-c", "import drizzlepac"], capture_output=True, timeout=300)
    return exe if ok.returncode == 0 else None


@pytest.fixture(scope="module")
def default_psf_run(tmp_path_factory):
    exe = _interpreter()
    if exe is None:
        pytest.skip("no interpreter with drizzlepac (set DITHERLAB_ADZ_PYTHON)")
    out = tmp_path_factory.mktemp("adz") / "m.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [exe, str(ROOT / "benchmarks" / "psf_astrodrizzle.py"), "--psf", "default",
           "--size", "1024", "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
    assert res.returncode == 0
    (m,) = json.loads(out.read_text())
    return m


@pytest.mark.slow
def test_issue_10_targets_for_astrodrizzle(default_psf_run):
    """Issue 10: <= 0.5 % of star-core pixels flagged, bright-star flux within 1 %.

    Measured (1024², seed 7) 0.36 % of 5017 and -0.54 % (29 stars); over five draws
    0.30-0.50 % and -0.85 to +0.04 %.  On 512² with the bare model (no residual blur)
    4.5 % and -3.5 %, and with the sharp Airy default before issue 10 29.6 % and -23.6 %.
    """
    m = default_psf_run
    assert m["core_pixels"] > 2000
    assert m["bright_stars"] >= 15
    assert m["core_flag_fraction"] <= 0.005
    assert abs(m["flux_error_median"]) <= 0.01
