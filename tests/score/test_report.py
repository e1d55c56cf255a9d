"""The comparison report: one self-contained HTML page, every figure loads in a browser."""

import base64
import re
import shutil
import subprocess

import pytest

from ditherlab.cli import main
from ditherlab.errors import OutputExistsError
from ditherlab.planner import format_apt, postarg_table
from ditherlab.score.report import render_html, write_report

PATTERNS = [2, "ACS-WFC-DITHER-BOX"]
# split plot; per pattern: drizzled-star cut-outs (products), pattern diagram, covering-radius
# and depth maps, weight map, and an eta map where eta is not at its cap everywhere (2
# exposures cannot rebuild a 2x2 grid)
N_FIGURES = 1 + 5 * len(PATTERNS) + 1


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep") / "cmp"
    return write_report(
        d, PATTERNS, "acs-wfc", total_exptime=2200, parallel="wfc3-uvis", grid=3,
        recommend_kwargs={"size": 24, "pixfracs": (1.0, 0.8, 0.6)},
        products=True, evaluate_kwargs={"size": 64, "rng": 1},
    )


def _images(text):
    return re.findall(r'<img src="([^"]*)"', text)


def test_one_self_contained_page(report):
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.html"]
    text = report.read_text(encoding="utf-8")
    srcs = _images(text)
    assert len(srcs) == N_FIGURES
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', text)


def test_page_holds_the_apt_lines_and_the_recommendation(report):
    from ditherlab.planner import get_aperture, standard_pattern

    text = report.read_text(encoding="utf-8")
    ap = get_aperture("acs-wfc")
    box = standard_pattern("ACS-WFC-DITHER-BOX")
    for line in format_apt(postarg_table(box, ap, decimals=3)).splitlines():
        if line.startswith("POS TARG"):
            assert line in text
    assert "final_pixfrac" in text
    assert "IUVIS" in text  # the parallel is scored and named
    assert "2 exposures cannot rebuild a 2×2 finer grid" in text
    assert "Simulated products" in text
    assert "drizzled-star cut-outs" in text or "drizzled star cut-outs" in text


def test_same_inputs_same_bytes(tmp_path):
    kw = {"total_exptime": 1000, "grid": 2, "recommend_kwargs": {"size": 16, "pixfracs": (1.0,)}}
    a = write_report(tmp_path / "a", [3], "wfc3-ir", **kw)
    b = write_report(tmp_path / "b", [3], "wfc3-ir", **kw)
    assert a.read_bytes() == b.read_bytes()


def test_refuses_to_overwrite_and_writes_nothing_else(report):
    before = report.read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_report(report.parent, [2], "acs-wfc", total_exptime=100)
    assert report.read_bytes() == before


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_browser() is None, reason="no chromium/chrome on PATH for the headless check")
def test_every_figure_loads_in_a_headless_browser(report):
    # the page's own script counts the images that decoded once the load event fired
    out = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    body = re.search(r"<body[^>]*>", out).group(0)
    total = int(re.search(r'data-images-total="(\d+)"', body).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    assert total == N_FIGURES
    assert loaded == total


def test_a_broken_figure_is_caught_by_the_browser_check(tmp_path):
    # the check can fail: an image whose data is not a PNG does not load
    if _browser() is None:
        pytest.skip("no chromium/chrome on PATH for the headless check")
    page = tmp_path / "bad.html"
    page.write_text(render_html("t", [("A", ['<img src="data:image/png;base64,AAAA" alt="x">'])]))
    out = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert 'data-images-loaded="0"' in out
    assert 'data-images-total="1"' in out


def test_cli_table_and_progress(capsys):
    rc = main(["compare", "--patterns", "2", "4", "--aperture", "acs-wfc", "--exptime", "2200",
               "--grid", "2"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "eta_mean" in out
    assert "4-point box" in out
    assert "ditherlab compare:" in err  # progress on stderr


def test_cli_report_and_refusals(tmp_path, capsys):
    d = tmp_path / "r"
    args = ["compare", "--patterns", "3", "--aperture", "wfc3-ir", "--exptime", "1200",
            "--grid", "2", "--report", str(d), "-q"]
    # a run that fails creates nothing, not even the folder
    assert main([*args[:3], "NOPE", *args[3:]]) == 2
    assert "--patterns='NOPE'" in capsys.readouterr().err
    assert not d.exists()
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"report: {d / 'report.html'}" in out
    assert err == ""
    first = (d / "report.html").read_bytes()
    # an existing report is refused at once, with one line, exit 2, and left as it was
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "overwrite" in err
    assert (d / "report.html").read_bytes() == first
    # replaced only when asked
    assert main([*args[:2], "2", *args[3:], "--overwrite"]) == 0
    assert (d / "report.html").read_bytes() != first


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--exptime", "-5"], "--exptime=-5.0"),
        (["--exptime", "nan"], "--exptime=nan"),
        (["--sky", "-1"], "--sky=-1.0"),
        (["--patterns", "5"], "--patterns='5'"),
        (["--patterns", "NOPE"], "--patterns='NOPE'"),
        (["--aperture", "nowhere"], "nowhere"),
    ],
)
def test_cli_bad_input_one_line_exit_2(extra, needle, capsys):
    base = {"--patterns": ["2"], "--aperture": ["acs-wfc"], "--exptime": ["100"]}
    for i in range(0, len(extra), 2):
        base[extra[i]] = [extra[i + 1]]
    argv = ["compare"] + [x for k, v in base.items() for x in (k, *v)] + ["--grid", "2", "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert needle in err


def test_cli_products_are_seeded_and_simulation_flags_need_products(capsys):
    argv = ["compare", "--patterns", "4", "--aperture", "wfc3-ir", "--exptime", "600",
            "--grid", "2", "-q"]
    assert main([*argv, "--seed", "3"]) == 2
    assert "--products" in capsys.readouterr().err
    assert main([*argv, "--products", "--realisations", "0"]) == 2
    assert "--realisations" in capsys.readouterr().err
    runs = []
    for _ in range(2):
        assert main([*argv, "--products", "--seed", "3", "--size", "64"]) == 0
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]
    assert "product_holes" in runs[0]

