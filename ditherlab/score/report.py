"""The comparison report: one self-contained HTML page per question.

:func:`write_report` compares the patterns (:func:`~ditherlab.score.compare`), recommends a
``final_scale``/``final_pixfrac`` for each (:func:`~ditherlab.score.recommend_drizzle`), draws
the figures and writes ``report.html``: tables, PNG figures embedded as base64 ``data:``
URIs (the page needs no other file and no network) and each pattern's ``POS TARG`` lines
to paste into APT.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab.errors import OutputExistsError

__all__ = ["PageFigure", "render_html", "table_html", "write_report"]

REPORT_NAME = "report.html"

_CSS = """
body{font-family:system-ui,sans-serif;max-width:72em;margin:1em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
.wide{overflow-x:auto;max-width:100%}td:first-child{white-space:nowrap}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:.8em;color:#555;max-width:40em}
pre{background:#f7f7f7;padding:.6em;font-size:.85em;overflow-x:auto}
.note{font-size:.9em;color:#444}#status{font-size:.8em;color:#777}
"""

# Counts the figures that decoded, for readers and for the browser test.
_SCRIPT = """
window.addEventListener('load', function () {
  var im = document.images, ok = 0;
  for (var i = 0; i < im.length; i++) { if (im[i].complete && im[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images-total', im.length);
  document.body.setAttribute('data-images-loaded', ok);
  document.getElementById('status').textContent = ok + ' of ' + im.length + ' figures loaded';
});
"""


@dataclasses.dataclass(frozen=True)
class PageFigure:
    """A PNG figure for the page: bytes, alternative text and caption."""

    png: bytes
    alt: str
    caption: str = ""

    def html(self) -> str:
        """The ``<figure>`` element with the PNG inlined as a data URI."""
        data = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}">'
            f"{cap}</figure>"
        )


def table_html(table, tableid: str) -> str:
    """An astropy Table as an HTML ``<table>`` (column formats and units kept)."""
    lines = table.pformat(
        html=True, max_lines=-1, max_width=-1, show_unit=True, tableid=tableid
    )
    return '<div class="wide">' + "\n".join(lines) + "</div>"


def render_html(title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A whole HTML page from ``(heading, [html fragments])`` sections.

    Examples
    --------
    >>> page = render_html("t", [("A", ["<p>x</p>"])])
    >>> page.startswith("<!DOCTYPE html>"), "<h2>A</h2>" in page
    (True, True)
    """
    body = [f"<h1>{html.escape(title)}</h1>", '<p id="status"></p>']
    for heading, parts in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.extend(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{_SCRIPT}</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _prepare_dir(directory: Any, overwrite: bool) -> Path:
    """Check that the report can be written, refusing an existing page unless ``overwrite``.

    Creates nothing: a run that fails later leaves no empty folder behind.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise OutputExistsError(f"report={str(d)!r} exists and is not a directory")
    if not d.parent.is_dir():
        raise FileNotFoundError(f"report={str(d)!r}: directory {str(d.parent)!r} does not exist")
    page = d / REPORT_NAME
    if page.exists() and not overwrite:
        raise OutputExistsError(
            f"report={str(d)!r} already holds {REPORT_NAME}; pass overwrite=True "
            "(--overwrite) to replace it"
        )
    where = d if d.exists() else d.parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise PermissionError(f"report={str(d)!r}: {str(where)!r} is not writable")
    return page


def write_report(
    directory: Any,
    patterns: Sequence[Any],
    aperture: Any,
    *,
    total_exptime: float,
    parallel: Any = None,
    products: bool = False,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    recommend_kwargs: dict[str, Any] | None = None,
    **compare_kwargs: Any,
) -> Path:
    """Compare patterns and write one self-contained HTML report.

    Parameters
    ----------
    directory : path
        Folder for ``report.html`` (created if missing; its parent must exist).
    patterns, aperture, total_exptime, parallel, products
        As in :func:`~ditherlab.score.compare`.
    overwrite : bool, optional
        Replace an existing ``report.html``.
    progress : callable, optional
        Called with a short message at each step.
    recommend_kwargs : dict, optional
        Extra arguments for :func:`~ditherlab.score.recommend_drizzle`.
    **compare_kwargs
        Passed to :func:`~ditherlab.score.compare` (``grid``, ``source_rate``, ``sky``, ...).

    Returns
    -------
    Path
        The page written (written to a temporary file and renamed: never half-written).
    """
    from ditherlab._io import write_text_atomic
    from ditherlab.planner import get_aperture
    from ditherlab.score.compare import compare

    page = _prepare_dir(directory, overwrite)
    say = progress or (lambda msg: None)
    ap = get_aperture(aperture)
    table = compare(
        patterns,
        ap,
        total_exptime=total_exptime,
        parallel=parallel,
        products=products,
        progress=say,
        **compare_kwargs,
    )
    sections = _sections(table, ap, say, recommend_kwargs or {})
    title = f"Dither comparison on {ap.name}" + (
        f" with {', '.join(table.meta['parallels'])} in parallel" if table.meta["parallels"] else ""
    )
    text = render_html(title, sections)
    page = _prepare_dir(directory, overwrite)  # again: the folder may have changed meanwhile
    say(f"writing {page}")
    page.parent.mkdir(exist_ok=True)
    return write_text_atomic(page, text, overwrite=True, name="report")


def _sections(table, ap, say, recommend_kwargs) -> list[tuple[str, list[str]]]:
    from ditherlab.score import _figures as F
    from ditherlab.score.recommend import recommend_drizzle

    posts = table.meta["patterns"]
    sections = [("Summary", [_intro(table), *_summary_tables(table)])]
    recs = []
    for i, pat in enumerate(posts):
        say(f"[{i + 1}/{len(posts)}] {pat.name}: drizzle recommendation (weight maps)")
        recs.append(recommend_drizzle(pat, ap, **recommend_kwargs))
    sections.append(("Drizzle parameters", [_recommend_table(recs)]))
    sections.append(("Splitting the exposure time", [_split_figure(table, ap, F)]))
    if table.meta.get("products"):
        sections.append(("Simulated products", _product_parts(table, F)))
    for i, (pat, rec) in enumerate(zip(posts, recs, strict=True)):
        say(f"[{i + 1}/{len(posts)}] {pat.name}: figures")
        sections.append((f"Pattern {i + 1}: {pat.name}", _pattern_parts(pat, ap, rec, table, F)))
    return sections


def _intro(table) -> str:
    m = table.meta
    par = f"; parallels {', '.join(m['parallels'])}" if m["parallels"] else ""
    return (
        f'<p class="note">Prime {html.escape(m["aperture"])}{html.escape(par)}; '
        f"{m['total_exptime']:g} s in total, split equally.  S/N: a {m['source_rate']:g} e⁻/s "
        f"source over {m['n_pix']:g} pixels, sky {m['sky']:g} e⁻/s/pixel, dark "
        f"{m['dark']:g} e⁻/s/pixel, read noise {m['read_noise']:g} e⁻.  Cosmic rays hit "
        f"{100 * 1000 * m['cr_rate']:.2f} % of pixels per 1000 s; a pixel is lost when hit "
        "in every exposure (p^N).  η is Lauer's noise amplification for the target "
        "sub-sampling (1 is ideal).</p>"
    )


def _summary_tables(table) -> list[str]:
    from ditherlab.score.compare import GEOMETRY_COLUMNS

    exposures = table[[c for c in _EXPOSURE_COLUMNS if c in table.colnames]]
    exposures.meta = {}
    sampling = table.meta["coverage"].to_table()
    sampling.keep_columns(["pattern", "aperture", "role", *GEOMETRY_COLUMNS])
    for c in GEOMETRY_COLUMNS:
        sampling[c].format = ".3f"
    sampling.meta = {}
    return [
        "<h3>Exposures</h3>",
        table_html(exposures, "exposures"),
        (
            '<p class="note">exptime: seconds per exposure; snr: S/N of the test source above '
            "after the whole program, and snr_ratio its ratio to one unsplit exposure (read "
            "noise is paid N times); cr_lost_fraction: fraction of pixels hit by a cosmic ray "
            "in every exposure (p^N), cr_lost_pixels the same per chip; move_overhead: "
            "telescope moves between pointings, overhead: moves plus the per-exposure "
            "overhead given (s); gap_once, gap_twice: fraction of the chip gap seen by at "
            "least one, two exposures.</p>"
        ),
        "<h3>Sub-pixel sampling over the field</h3>",
        table_html(sampling, "sampling"),
        (
            '<p class="note">η: mean, median and worst over the field positions (capped at '
            "10); efficiency 1/η²; covering radius and per-axis phase gaps in pixels "
            "(smaller is better); clearance: the smallest whole-pixel separation of two "
            "exposures (hot pixels need ≥ 1).</p>"
        ),
    ]


_EXPOSURE_COLUMNS = (
    "pattern",
    "n_exposures",
    "exptime",
    "snr",
    "snr_ratio",
    "cr_lost_fraction",
    "cr_lost_pixels",
    "move_overhead",
    "overhead",
    "gap_once",
    "gap_twice",
)


def _recommend_table(recs) -> str:
    from astropy.table import Table

    t = Table(
        rows=[
            (r.pattern, r.final_scale, r.scale_ratio, r.final_pixfrac, r.rms_over_median,
             r.holes, r.noise_ratio, "yes" if r.passed else "no")
            for r in recs
        ],
        names=("pattern", "final_scale", "scale/native", "final_pixfrac",
               "weight RMS/median", "holes", "R(p, s)", "meets rules"),
    )
    t["final_scale"].unit = "arcsec"
    for c in ("final_scale", "scale/native", "weight RMS/median", "R(p, s)"):
        t[c].format = ".4f" if c == "final_scale" else ".3f"
    t["final_pixfrac"].format = ".1f"
    t["holes"].format = ".1%"
    reasons = "".join(
        f"<li><b>{html.escape(r.pattern)}</b>: {html.escape(r.reason)}</li>" for r in recs
    )
    return (
        table_html(t, "drizzle-parameters")
        + '<p class="note">DrizzlePac Handbook §6.3 rules (weight RMS/median ≤ 0.2, no holes, '
        "pixfrac ≥ 0.7 for four or fewer dithers), checked by drizzling each pattern's unit "
        "weight maps through the distortion at the reference pixel and near the four chip "
        "corners; the table gives the worst position.  The weight map shown is the "
        "reference pixel's.</p>"
        + f"<ul class=\"note\">{reasons}</ul>"
    )


#: Product scores shown in the report, with their formats.
_PRODUCT_COLUMNS = {
    "holes": ".2%",
    "weight_rms_over_median": ".3f",
    "cr_lost_measured": ".2e",
    "cr_lost_pipeline": ".2e",
    "cr_lost_analytic": ".2e",
    "cr_charge_left": ".2%",
    "cr_flagged": ".1%",
    "false_rejections": ".3%",
    "cr_core_flagged": ".2%",
    "cr_core_pixels": ".0f",
    "hot_residue": ".2%",
    "fwhm": ".4f",
    "ellipticity": ".3f",
    "phot_error": ".3f",
    "phot_bias": ".3f",
    "centroid_error": ".4f",
    "noise_ratio": ".3f",
    "noise_ratio_formula": ".3f",
}


def _product_parts(table, F) -> list[str]:
    from astropy.table import Table

    scores = table.meta["products"]
    rows = [(s.pattern, s.final_scale, s.final_pixfrac, len(s.per_realisation),
             *(s.to_dict()[k] for k in _PRODUCT_COLUMNS)) for s in scores]  # fmt: skip
    t = Table(rows=rows, names=("pattern", "final_scale", "final_pixfrac", "realisations",
                                *_PRODUCT_COLUMNS))  # fmt: skip
    for k, f in _PRODUCT_COLUMNS.items():
        t[k].format = f
    parts = [
        table_html(t, "products"),
        (
            '<p class="note">Each pattern simulated on a cut-out at the reference pixel, drizzled '
            "by the AstroDrizzle-style pipeline (cosmic rays found from the data) and measured "
            "against the truth: holes and weight RMS/median over the area every exposure covers; "
            "sky points masked in every exposure (with the truth masks, with the masks the "
            "pipeline found, and the analytic p^N); CR charge above 5σ left unflagged and "
            "unflagged hot-pixel charge that reached the final image; CR pixels above 5σ "
            "flagged, CR-free pixels and star-core pixels flagged anyway (cr_core_pixels: how many "
            "star-core pixels that fraction is of); isolated stars: FWHM "
            "(arcsec), ellipticity, RMS and median relative aperture-flux error and RMS "
            "centroid error (arcsec); "
            "measured noise-correlation ratio beside R(p, s).  Means over the realisations.</p>"
        ),
    ]
    for s in scores:
        parts.append(
            PageFigure(
                F.figure_png(F.plot_star_cutouts(s)),
                f"drizzled star cut-outs of {s.pattern}",
                f"{s.pattern}: the brightest isolated stars of the drizzled product.",
            ).html()
        )
    return parts


def _split_figure(table, ap, F) -> str:
    from ditherlab.planner import split_table

    m = table.meta
    split = split_table(
        m["total_exptime"],
        cr_rate=m["cr_rate"],
        source_rate=m["source_rate"],
        sky=m["sky"],
        dark=m["dark"],
        read_noise=m["read_noise"],
        n_pix=m["n_pix"],
        n_pixels_chip=ap.shape[0] * ap.shape[1],
    )
    marks: dict[int, list[str]] = {}
    for row in table:
        marks.setdefault(int(row["n_exposures"]), []).append(str(row["pattern"]))
    fig = F.plot_split(split, split, marks)
    return PageFigure(
        F.figure_png(fig),
        "cosmic-ray loss and S/N against the number of exposures",
        "Pixels per chip lost to cosmic rays (hit in every exposure) and S/N of the test "
        "source, for the same total time split into N exposures; grey bands mark the "
        "compared patterns.",
    ).html()


def _pattern_parts(pat, ap, rec, table, F) -> list[str]:
    from ditherlab.planner import format_apt, postarg_table

    parts = [
        PageFigure(
            F.figure_png(F.plot_pattern_figure(pat, ap)),
            f"pattern and phase diagram of {pat.name}",
            f"{pat.name}: pixel steps at the reference pixel of {ap.name} and their "
            "sub-pixel phases on the unit pixel cell.",
        ).html()
    ]
    parts.extend(_geometry_figures(pat, ap, table, F))
    i = next(k for k, p in enumerate(table.meta["patterns"]) if p is pat)
    if table.meta.get("depths"):
        parts.append(
            PageFigure(
                F.figure_png(F.plot_depth_figure(table.meta["depths"][i])),
                f"depth map of {pat.name}",
                "Exposures that see each sky point over both chips (prime ideal frame, "
                "undithered outlines drawn); the title gives the fraction of the chip gap "
                "filled at least once and twice (cosmic rays can be rejected only where two "
                "frames overlap).",
            ).html()
        )
    wht = rec.evidence.meta["weights"][(rec.final_scale, rec.final_pixfrac)]
    parts.append(
        PageFigure(
            F.figure_png(
                F.plot_weight_map(
                    wht,
                    f"weight map, final_scale {rec.final_scale:.4f}″, "
                    f"final_pixfrac {rec.final_pixfrac:.1f}",
                    rec.final_scale,
                )
            ),
            f"drizzled weight map of {pat.name}",
            "Unit weights of every exposure drizzled through the distortion (square "
            "kernel) over the area all exposures cover; holes are pixels with no input.",
        ).html()
    )
    apt = format_apt(postarg_table(pat, ap, decimals=3))
    parts.append(
        "<p>POS TARG lines for APT (arcsec, in the "
        f"{html.escape(ap.name)} ideal frame):</p><pre>{html.escape(apt)}</pre>"
    )
    return parts


def _geometry_figures(pat, ap, table, F) -> list[str]:
    from ditherlab.score import ETA_CAP

    cov = table.meta["coverage"]
    i = next(k for k, p in enumerate(table.meta["patterns"]) if p is pat)
    where = ap.name + "".join(f" and {p.aperture.name}" for p in cov.parallels)
    over = "×".join(str(k) for k in cov.oversampling)
    parts = []
    if all(float(np.min(r.map("eta", i))) >= ETA_CAP for r in (cov, *cov.parallels)):
        parts.append(
            f'<p class="note">η: {len(pat)} exposures cannot rebuild a {over} finer grid '
            f"anywhere over {html.escape(where)} (η at its cap of {ETA_CAP:g} everywhere); "
            "the covering radius below shows what they do sample.</p>"
        )
    else:
        parts.append(
            PageFigure(
                F.figure_png(F.plot_coverage_figure(cov, "eta", i)),
                f"eta map of {pat.name}",
                f"Lauer's noise amplification η for a {over} finer grid at each position "
                f"over {where} (1 is ideal; capped at {ETA_CAP:g}, which means that grid "
                "cannot be rebuilt there).  The same POS TARGs give different pixel steps "
                "across the field.",
            ).html()
        )
    parts.append(
        PageFigure(
            F.figure_png(F.plot_coverage_figure(cov, "covering_radius", i)),
            f"covering radius map of {pat.name}",
            "Covering radius of the sub-pixel phases (pixels): the largest distance from "
            "any point of the pixel cell to the nearest sampled phase (0.354 for a perfect "
            "half-pixel box, 0.707 for no dither).",
        ).html()
    )
    return parts
