"""ditherlab's pipeline beside drizzlepac's AstroDrizzle on the same simulated flt files.

drizzlepac is never a dependency of ditherlab: it runs in its own interpreter, found through
``$DITHERLAB_ASTRODRIZZLE_PYTHON`` (or ``/work/venv-adz``, or this interpreter if it has
drizzlepac); without one these tests are skipped.  The stacks, the AstroDrizzle settings
(reference §7: ``updatewcs=False``, ``driz_sep_bits = final_bits = 336``, minmed) and the
runner are those of ``benchmarks/pipeline_vs_astrodrizzle.py``.

Both pipelines' CR masks are scored against the simulator's truth (issue 12): ours must find
at least AstroDrizzle's recall of the CR pixels above 5σ with no more false flags on
defect-free pixels.  The false-flag counts are a few dozen pixels, so "no more" is judged
within the Poisson scatter of AstroDrizzle's count (2σ, plus 3 pixels).
"""

from pathlib import Path

import numpy as np
import pytest
from _stacks import bench

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

SIZE = 256  # one chip's cut-out; the slow tests and the benchmark run 512² on both chips


def _run(base: Path, py: str, aperture: str, size: int, chips=None):
    from ditherlab.drizzle import PipelineConfig, run_pipeline
    from ditherlab.simulate import read_exposure

    b = bench()
    paths = b.simulate_stack(base / "sim", aperture, size=size, chips=chips)
    adz = b.run_astrodrizzle(paths, base / "adz", py)
    ref = str(next((base / "adz").glob("final_dr?_sci.fits")))
    cfg = PipelineConfig(**b.OURS_SETTINGS, final_refimage=ref)
    out = {"exposures": [read_exposure(p, truth=True) for p in paths], "adz": adz}
    for label, extra in (("default", {}), ("poisson", {"driz_cr_noise": "poisson"}),
                         ("exact", {"driz_cr_peak": 0.0, "combine_minweight": 0.0})):
        p = run_pipeline(paths, cfg.replace(**extra))
        out[label] = {"sci": p.sci, "wht": p.wht, "cr_masks": p.cr_masks, "products": p}
    return out


@pytest.fixture(scope="module")
def acs(tmp_path_factory, adz_python):
    return _run(tmp_path_factory.mktemp("adz_acs"), adz_python, "acs-wfc", SIZE, chips=[1])


def _scores(run, label):
    return bench().compare(run["exposures"], run["adz"], run[label])


def _allowed(false_flags: int) -> float:
    return false_flags + 2.0 * np.sqrt(false_flags) + 3.0


def _check_against_astrodrizzle(res):
    a, o = res["astrodrizzle"], res["ours"]
    assert a.n_significant > 1000  # enough CR pixels for per-cent figures
    assert o.recall_significant >= a.recall_significant, (o.to_dict(), a.to_dict())
    assert o.false_flags <= _allowed(a.false_flags), (o.false_flags, a.false_flags)
    # issue 12's absolute targets on accurately pointed stacks
    assert o.recall_significant >= 0.98
    # star cores: both pipelines drizzle onto the same single-drizzle grid (AstroDrizzle's)
    # and flag the same star cores away from the chips' borders; on the border pixels
    # (docs/pipeline.md difference 11) ours can flag a few more, so within counting noise
    # of AstroDrizzle's (benchmark, 512² ACS/WFC: 2 and 2 of ~1120 core pixels)
    assert o.core_flags <= _allowed(a.core_flags), (o.core_flags, a.core_flags)


def test_final_images_agree(acs):
    im = _scores(acs, "default")["image"]
    assert im["pixels_compared"] > 0.8 * SIZE**2
    # same grid, same inputs: the drizzles differ only where the masks or kernels do
    assert abs(im["median_diff_over_noise"]) < 0.05
    assert im["rms_diff_over_noise"] < 1.0  # 0.2-0.6 sky sigma measured (512² to full chips)
    assert im["bright_stars"] >= 10
    assert im["bright_star_flux_ratio_median"] == pytest.approx(1.0, abs=0.005)


def test_cr_masks_agree(acs):
    m = _scores(acs, "default")["mask_agreement"]
    assert m.jaccard > 0.8, m


def test_without_the_star_core_additions_the_masks_are_astrodrizzles(acs):
    """Same grid, same test: the masks differ only on the chip's border rows and columns
    (docs/pipeline.md, difference 11); 0.996 measured on this stack."""
    m = _scores(acs, "exact")["mask_agreement"]
    assert m.jaccard > 0.99, m


def test_recall_and_false_flags_with_the_default_config(acs):
    """The default noise term is drizzlepac's (the sky counted twice, as drizCR.py does)."""
    _check_against_astrodrizzle(_scores(acs, "default"))


@pytest.mark.xfail(
    strict=True,
    reason="driz_cr_noise='poisson' counts the sky once but not the noise of the blotted "
    "median, so its thresholds sit lower than AstroDrizzle's: ~30x its false flags at 512² "
    "(761 vs 25 pixels) for +0.7 % recall",
)
def test_the_poisson_noise_term_flags_more_than_astrodrizzle(acs):
    _check_against_astrodrizzle(_scores(acs, "poisson"))


@pytest.mark.slow
@pytest.mark.parametrize("aperture", ["acs-wfc", "wfc3-uvis"])
def test_512_cutouts(aperture, tmp_path, adz_python):
    run = _run(tmp_path, adz_python, aperture, 512)
    _check_against_astrodrizzle(_scores(run, "default"))


@pytest.mark.slow
def test_issue_12_star_core_target(tmp_path, adz_python):
    """≤ 0.1 % of star cores, which AstroDrizzle's own test does not meet on a PSF as sharp
    as HST's (docs/pipeline.md, "Star cores"); ditherlab's defaults do."""
    o = _scores(_run(tmp_path, adz_python, "acs-wfc", 512), "default")["ours"]
    assert o.n_core >= 1000
    assert o.core_flags <= 0.001 * o.n_core
