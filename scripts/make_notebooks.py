"""Write the exploration notebooks (outputs stripped) from the cell sources below.

Run ``python scripts/make_notebooks.py`` after editing; the test suite executes them.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"

PATTERNS = [
    new_markdown_cell(
        "# Dither patterns and their sub-pixel phases\n\n"
        "The sub-pixel families of the DrizzlePac Handbook (§2.2), what their phases look like "
        "on the unit pixel cell, and how the phase-coverage scores rank them."
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "from ditherlab.planner import cross, subpixel, Pattern\n"
        "from ditherlab.planner.plotting import plot_pattern\n"
        "from ditherlab.score import phase_metrics"
    ),
    new_markdown_cell("A four-point box with 5 × 3 pixel integer steps:"),
    new_code_cell("box = subpixel(4, step=(5, 3))\nbox"),
    new_code_cell("fig = plot_pattern(box)"),
    new_markdown_cell(
        "Every family, scored: η is Lauer's noise amplification for a 2 × 2 (or 3 × 3) "
        "finer grid (1 is ideal, ∞ impossible); ρ is the covering radius of the phases in "
        "pixels (smaller is better)."
    ),
    new_code_cell(
        "for n in (2, 3, 4, 6, 8, 9):\n"
        "    p = subpixel(n)\n"
        "    m22 = phase_metrics(p, oversample=2)\n"
        "    m33 = phase_metrics(p, oversample=3)\n"
        "    print(f\"{n}-point: eta(2x2) = {m22['eta']:.3f}  eta(3x3) = {m33['eta']:.3f}  \"\n"
        "          f\"covering radius = {m22['covering_radius']:.3f} px\")"
    ),
    new_markdown_cell(
        "A pattern whose steps come out 3 % too long (as a fixed POS TARG does near a corner "
        "of ACS/WFC, where the plate scale differs by ±5 %) loses part of its sampling:"
    ),
    new_code_cell(
        "for scale in (1.0, 1.01, 1.03, 1.05):\n"
        "    drift = Pattern(box.offsets * scale)\n"
        "    m = phase_metrics(drift)\n"
        "    print(f\"scale {scale:.2f}: eta = {m['eta']:.3f}, covering radius = \"\n"
        "          f\"{m['covering_radius']:.3f} px\")"
    ),
    new_markdown_cell("## Splitting an exposure: S/N against cosmic-ray loss"),
    new_code_cell("from ditherlab.planner import split_table\nt = split_table(3000)\nt"),
    new_code_cell(
        "fig, ax1 = plt.subplots(figsize=(6, 3.5))\n"
        "ax1.plot(t['n_exposures'], t['snr'], 'o-', label='S/N')\n"
        "ax1.set_xlabel('number of exposures'); ax1.set_ylabel('S/N')\n"
        "ax2 = ax1.twinx()\n"
        "ax2.semilogy(t['n_exposures'], np.maximum(t['cr_lost_pixels'], 1e-3), 's--', color='C1')\n"
        "ax2.set_ylabel('pixels lost to CRs per chip')\n"
        "fig.tight_layout()"
    ),
]


def write(name, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    HERE.mkdir(exist_ok=True)
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    write("01_patterns_and_phases.ipynb", PATTERNS)
