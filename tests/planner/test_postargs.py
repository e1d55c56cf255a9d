"""POS TARG tables: formats, exact round trips, safe writing, clear parse errors."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ditherlab.errors import DitherlabValueError, FileFormatError, OutputExistsError
from ditherlab.planner import Pattern, read_postargs, standard_pattern, subpixel, write_postargs

coords = st.floats(-150, 150, allow_nan=False, allow_infinity=False)
patterns = st.lists(st.tuples(coords, coords), min_size=1, max_size=12).map(
    lambda pts: Pattern(pts, frame="postarg", name="hyp")
)


@pytest.mark.parametrize("fmt", ["ecsv", "csv", "json"])
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=patterns)
def test_exact_round_trip(tmp_path, fmt, pattern):
    path = tmp_path / f"p.{fmt}"
    write_postargs(pattern, path, overwrite=True)
    back = read_postargs(path)
    if fmt == "csv":  # plain rows: the offsets only, bit-identical
        np.testing.assert_array_equal(back.offsets, pattern.offsets)
        assert back.frame == "postarg"
    else:
        assert back == pattern  # offsets bit-identical, same name and frame


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=patterns, decimals=st.integers(0, 6))
def test_apt_round_trip_is_exact_on_rounded_values(tmp_path, pattern, decimals):
    path = tmp_path / "p.txt"
    write_postargs(pattern, path, decimals=decimals, overwrite=True, force=True)
    back = read_postargs(path)
    np.testing.assert_array_equal(back.offsets, np.round(pattern.offsets, decimals))
    # rewriting what was read gives the same file
    path2 = tmp_path / "p2.txt"
    write_postargs(back, path2, decimals=decimals, overwrite=True, force=True)
    assert path.read_text() == path2.read_text()


def test_apt_text_layout(tmp_path):
    path = tmp_path / "box.apt"
    write_postargs(standard_pattern("ACS-WFC-DITHER-BOX"), path, decimals=3)
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [
        "POS TARG 0.000,0.000",
        "POS TARG 0.247,0.094",
        "POS TARG 0.123,0.232",
        "POS TARG -0.123,0.138",
    ]
    assert read_postargs(path).name == "ACS-WFC-DITHER-BOX"


def test_hand_typed_apt_variants(tmp_path):
    path = tmp_path / "hand.txt"
    path.write_text("# mine\nPOSITION TARGET 0.1, -0.2\n\npos targ +1.5e-1,3\n")
    p = read_postargs(path)
    np.testing.assert_array_equal(p.offsets, [[0.1, -0.2], [0.15, 3.0]])


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "p.ecsv"
    write_postargs(standard_pattern("WFPC2-LINE"), path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_postargs(standard_pattern("ACS-WFC-DITHER-BOX"), path)
    assert path.read_bytes() == before
    write_postargs(standard_pattern("ACS-WFC-DITHER-BOX"), path, overwrite=True)
    assert len(read_postargs(path)) == 4


def test_pixel_pattern_needs_an_aperture(tmp_path):
    with pytest.raises(DitherlabValueError, match="aperture="):
        write_postargs(subpixel(4), tmp_path / "x.txt")
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("bad.txt", "POS TARG 0,0\nPOS TARG 1;2\n", r"line 2: expected 'POS TARG"),
        ("nan.txt", "POS TARG 0,0\n# c\nPOS TARG nan,1\n", r"line 3: 'nan' is not finite"),
        ("empty.txt", "# nothing\n", "no 'POS TARG x,y' lines"),
        ("bad.csv", "exposure,postarg_x_arcsec,postarg_y_arcsec\n1,0,0\n2,x,1\n", r"line 3"),
        ("short.csv", "exposure,postarg_x_arcsec,postarg_y_arcsec\n1,0\n", r"line 2: 2 fields"),
        ("hdr.csv", "a,b\n1,2\n", r"line 1: header must name"),
        ("bad.json", '{"offsets": [[0, 0],\n [1, ]]}', r"line 2: invalid JSON"),
        ("shape.json", '{"offsets": [1, 2, 3]}', "non-empty list of"),
        ("bad.ecsv", "# %ECSV 1.0\n# ---\nnot a table\n", "ECSV"),
    ],
)
def test_malformed_files_name_the_line(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FileFormatError, match=match):
        read_postargs(path)


def test_json_layout(tmp_path):
    path = tmp_path / "p.json"
    write_postargs(standard_pattern("WFPC2-LINE"), path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "ditherlab-postargs"
    assert doc["unit"] == "arcsec"
    assert doc["meta"]["pattern_meta"]["apt"]["Point_Spacing"] == 0.3535


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_postargs("/nonexistent/dir/p.txt")


def test_bad_meta_and_units_are_format_errors(tmp_path):
    j = tmp_path / "meta.json"
    j.write_text('{"offsets": [[0, 0]], "meta": [1, 2]}')
    with pytest.raises(FileFormatError, match="'meta' must be an object"):
        read_postargs(j)
    from astropy import units as u
    from astropy.table import Table

    e = tmp_path / "pix.ecsv"
    Table({"postarg_x": [0.0, 1.0] * u.pix, "postarg_y": [0.0, 1.0] * u.pix}).write(e)
    with pytest.raises(FileFormatError, match="not an angle"):
        read_postargs(e)
    ok = tmp_path / "mas.ecsv"
    Table({"postarg_x": [0.0, 100.0] * u.mas, "postarg_y": [0.0, 0.0] * u.mas}).write(ok)
    np.testing.assert_allclose(read_postargs(ok).offsets, [[0, 0], [0.1, 0]])


def test_apt_text_prints_no_negative_zero():
    # ACS/WFC: the 4-point box's second step is along y only; rounded to APT's 4 decimals
    # its x step comes back a hair below zero (-3e-5 px), which once printed as "-0.000"
    from ditherlab.planner import format_apt, get_aperture, postarg_table

    ap = get_aperture("acs-wfc1")
    table = postarg_table(ap.postarg_offsets(subpixel(4, step=(3, 3))), ap, decimals=4)
    assert min(float(v) for v in table["pixel_x"]) < 0  # the hair is there
    text = format_apt(table)
    assert "# exposure 2: step (+0.000, +3.500) px" in text
    assert "-0.000" not in text
    # tiny negative POS TARGs print as 0 too, and the text still reads back
    tiny = Pattern([[0.0, 0.0], [-1e-7, 0.1]], frame="postarg", name="tiny")
    assert "POS TARG 0.0000,0.1000" in format_apt(postarg_table(tiny))
