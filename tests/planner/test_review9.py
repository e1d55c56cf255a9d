"""Defects found in the review of issue 9's planner change, each as a test that fails on it."""

import pytest

from ditherlab.cli import main


def one_line_error(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("step", [("0.5", "0.5"), ("nan", "1")])
def test_demo_fractional_step_names_the_flag(capsys, tmp_path, step):
    err = one_line_error(capsys, "demo", "--step", *step, "--outdir", tmp_path / "d")
    assert f"--step {float(step[0]):g} {float(step[1]):g}" in err
    assert not (tmp_path / "d").exists()
