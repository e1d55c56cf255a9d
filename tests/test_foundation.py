"""The foundation: errors, argument validation, atomic writes, import hygiene."""

import importlib
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
from astropy import units as u

import ditherlab
from ditherlab import _io, _validation
from ditherlab.errors import (
    DitherlabError,
    DitherlabTypeError,
    DitherlabValueError,
    OutputExistsError,
)


def _all_modules():
    for info in pkgutil.walk_packages(ditherlab.__path__, "ditherlab."):
        if info.name.endswith("__main__"):
            continue
        yield info.name


@pytest.mark.parametrize("modname", sorted(_all_modules()))
def test_all_names_resolve(modname):
    mod = importlib.import_module(modname)
    for name in getattr(mod, "__all__", ()):
        assert hasattr(mod, name), f"{modname}.__all__ lists {name!r}, which is not defined"


def test_import_has_no_side_effects():
    code = (
        "import sys, socket\n"
        "def _no(*a, **k): raise AssertionError('network access at import')\n"
        "socket.socket.connect = _no\n"
        "import ditherlab, ditherlab.planner, ditherlab.simulate, ditherlab.drizzle, "
        "ditherlab.score\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_errors_inherit_builtins():
    assert issubclass(DitherlabValueError, ValueError)
    assert issubclass(DitherlabValueError, DitherlabError)
    assert issubclass(DitherlabTypeError, TypeError)
    assert issubclass(OutputExistsError, FileExistsError)


def test_as_float_names_argument_and_value():
    with pytest.raises(DitherlabValueError, match=r"exptime=-3.0 must be > 0"):
        _validation.as_float("exptime", -3.0, minimum=0, min_inclusive=False)
    with pytest.raises(DitherlabValueError, match=r"step=nan must be finite"):
        _validation.as_float("step", float("nan"))
    with pytest.raises(DitherlabTypeError, match=r"x='a' must be a real number"):
        _validation.as_float("x", "a")
    assert _validation.as_float("t", 2 * u.min, unit=u.s) == 120.0
    with pytest.raises(DitherlabValueError, match="cannot be converted"):
        _validation.as_float("t", 2 * u.m, unit=u.s)


def test_as_int_and_choices():
    assert _validation.as_int("n", 4, choices=(2, 3, 4)) == 4
    assert _validation.as_int("n", 4.0) == 4
    with pytest.raises(DitherlabValueError, match=r"n=5 is not one of \(2, 3, 4\)"):
        _validation.as_int("n", 5, choices=(2, 3, 4))
    with pytest.raises(DitherlabTypeError):
        _validation.as_int("n", True)
    with pytest.raises(DitherlabTypeError):
        _validation.as_int("n", 2.5)
    assert _validation.as_choice("fmt", "APT", ("apt", "ecsv")) == "apt"
    with pytest.raises(DitherlabValueError, match="fmt='xml'"):
        _validation.as_choice("fmt", "xml", ("apt", "ecsv"))


def test_as_pair_and_array():
    assert _validation.as_pair("step", 3) == (3.0, 3.0)
    assert _validation.as_pair("step", (1, 2.5)) == (1.0, 2.5)
    assert _validation.as_pair("at", [1, 2] * u.arcmin, unit=u.arcsec) == (60.0, 120.0)
    with pytest.raises(DitherlabValueError, match="must be a pair"):
        _validation.as_pair("step", (1, 2, 3))
    with pytest.raises(DitherlabValueError, match="finite"):
        _validation.as_pair("step", (1, np.inf))
    arr = _validation.as_array("offsets", [[0, 0], [1, 2]], shape=(None, 2))
    assert arr.dtype == np.float64
    with pytest.raises(DitherlabValueError, match=r"offsets must have shape \(N, 2\)"):
        _validation.as_array("offsets", [[0, 0, 0]], shape=(None, 2))
    with pytest.raises(DitherlabValueError, match=r"element \(1, 0\) is nan"):
        _validation.as_array("offsets", [[0, 0], [np.nan, 0]])


def test_as_rng_is_reproducible():
    a = _validation.as_rng(42).normal(size=5)
    b = _validation.as_rng(42).normal(size=5)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(1)
    assert _validation.as_rng(g) is g
    with pytest.raises(DitherlabTypeError, match="rng="):
        _validation.as_rng("seed")
    with pytest.raises(DitherlabValueError, match="non-negative"):
        _validation.as_rng(-1)


def test_atomic_write_refuses_existing_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    _io.write_text_atomic(target, "one")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        _io.write_text_atomic(target, "two")
    assert target.read_text() == "one"
    _io.write_text_atomic(target, "two", overwrite=True)
    assert target.read_text() == "two"

    def broken(path):
        path.write_text("partial")
        raise RuntimeError("writer failed")

    other = tmp_path / "other.txt"
    with pytest.raises(RuntimeError):
        _io.write_with(other, broken)
    assert not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_cli_version_and_help(capsys):
    from ditherlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert ditherlab.__version__ in capsys.readouterr().out


def test_atomic_write_gives_normal_file_mode(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        new = _io.write_text_atomic(tmp_path / "new.txt", "x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        os.chmod(new, 0o600)
        _io.write_text_atomic(new, "y", overwrite=True)  # keeps the existing mode
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
    finally:
        os.umask(umask)
