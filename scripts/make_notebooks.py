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
        "fig, ax1 = plt.subplots(figsize=(6.5, 3.8))\n"
        "l1 = ax1.plot(t['n_exposures'], t['snr'], 'o-', label='S/N (left axis)')\n"
        "ax1.set_xlabel('number of exposures (3000 s in total)')\n"
        "ax1.set_ylabel('S/N of the 24 mag source')\n"
        "ax2 = ax1.twinx()\n"
        "# the true p^N values, however small: no floor\n"
        "l2 = ax2.semilogy(t['n_exposures'], t['cr_lost_pixels'], 's--', color='C1',\n"
        "                  label='pixels lost to CRs per 800x800 chip (right axis)')\n"
        "ax2.axhline(1, color='C1', lw=0.6, ls=':')\n"
        "ax2.set_ylabel('pixels lost per chip')\n"
        "ax1.legend(handles=l1 + l2, loc='upper right', fontsize=8)\n"
        "ax1.set_title('WFPC2 example of DrizzlePac Handbook Table 2.1')\n"
        "fig.tight_layout()"
    ),
]

DISTORTION = [
    new_markdown_cell(
        "# One POS TARG, many pixel steps: distortion and parallel cameras\n\n"
        "A POS TARG pattern is a fixed motion of the telescope. On a distorted chip it is a "
        "different pixel step at each place, and in a parallel camera it is a different step "
        "again, so sub-pixel sampling designed for one spot degrades elsewhere."
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "from ditherlab.planner import get_aperture, parallel_offsets, standard_pattern, subpixel\n"
        "from ditherlab.score import phase_map, phase_metrics"
    ),
    new_code_cell(
        "wfc = get_aperture('acs-wfc1')\n"
        "area = wfc.pixel_area_map(step=32)\n"
        "print(f'relative pixel area on WFC1: {area.min():.3f} to {area.max():.3f}')"
    ),
    new_markdown_cell(
        "The same 4-point half-pixel box with small (3 px) and large (40 px) integer steps, "
        "scored on a 7 × 4 grid across WFC1:"
    ),
    new_code_cell(
        "fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)\n"
        "for ax, step in zip(axes, (3, 40)):\n"
        "    posts = wfc.postarg_offsets(subpixel(4, step=(step, step)))\n"
        "    t = phase_map(posts, wfc, grid=(7, 4))\n"
        "    sc = ax.scatter(t['x'], t['y'], c=t['eta'], vmin=1, vmax=2, s=200, cmap='magma_r')\n"
        "    ax.set_title(f\"step {step} px: worst eta = {t.meta['eta_worst']:.2f}\")\n"
        "    ax.set_xlabel('x [flt pixel]')\n"
        "axes[0].set_ylabel('y [flt pixel]')\n"
        "fig.colorbar(sc, ax=axes, label='noise amplification eta')"
    ),
    new_markdown_cell("The ACS-WFC box as seen by WFC3/UVIS and WFC3/IR in parallel:"),
    new_code_cell(
        "box = standard_pattern('ACS-WFC-DITHER-BOX')\n"
        "for cam in ('acs-wfc', 'wfc3-uvis1', 'wfc3-ir'):\n"
        "    pix = parallel_offsets(box, 'acs-wfc', cam)\n"
        "    m = phase_metrics(pix)\n"
        "    print(f\"{cam:11s} eta = {m['eta']:8.2f}  covering radius = \"\n"
        "          f\"{m['covering_radius']:.3f} px\")"
    ),
]

END_TO_END = [
    new_markdown_cell(
        "# Simulate a dither, drizzle it, compare patterns\n\n"
        "Simulated ACS/WFC exposures on a small sub-array (stars, sky, cosmic rays, hot "
        "pixels, noise), drizzled onto a grid twice as fine with the numpy drizzle, for a "
        "2-point and a 4-point pattern. `ditherlab.demo.run_demo` does all of this with a "
        "report; here the steps are spelled out."
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n"
        "from astropy.nddata import bitfield_to_boolean_mask\n\n"
        "from ditherlab.drizzle import Drizzle, IdealGrid, pixmap_from_aperture\n"
        "from ditherlab.planner import get_aperture, subpixel\n"
        "from ditherlab.score import weight_uniformity\n"
        "from ditherlab.simulate import Scene, observe"
    ),
    new_code_cell(
        "ap = get_aperture('acs-wfc1')\n"
        "scene = Scene.random_field(40, size=12.0, sky=40.0, mag_range=(20, 25), "
        "zeropoint=26.5, rng=2)\n"
        "sub = (1990, 965, 120, 120)  # x0, y0, nx, ny around the reference pixel\n"
        "stacks = {}\n"
        "for n in (2, 4):\n"
        "    posts = ap.postarg_offsets(subpixel(n, step=(3, 3)))\n"
        "    exps = observe(scene, posts, ap, 400.0, chips=[1], subarray=sub, rng=2)\n"
        "    # output grid: the aperture's ideal (POS TARG) frame at half the native scale\n"
        "    grid = IdealGrid.covering(ap, [ap], posts, final_scale=0.5, subarrays=[sub])\n"
        "    d = Drizzle(out_shape=grid.shape)\n"
        "    for e, pk in zip(exps, posts.offsets):\n"
        "        c, t = e.chips[0], e.truth.chips[0]\n"
        "        good = bitfield_to_boolean_mask(c.dq, ignore_flags=336, good_mask_value=True)\n"
        "        w = (good & ~t.cr_mask) * e.exptime  # truth CR masks: ideal rejection\n"
        "        pm = pixmap_from_aperture(ap, tuple(pk), grid, shape=c.sci.shape,\n"
        "                                  origin=sub[:2])\n"
        "        d.add_image(c.sci - e.sky, e.exptime, pm, weight_map=w, pixfrac=0.8,\n"
        "                    in_units='counts', iscale=0.25, pixel_scale_ratio=0.5)\n"
        "    stacks[n] = (d.out_img, d.out_wht)\n"
        "    print(n, 'exposures: weight RMS/median =',\n"
        "          round(weight_uniformity(d.out_wht)['rms_over_median'], 3))"
    ),
    new_code_cell(
        "fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))\n"
        "for row, n in zip(axes, (2, 4)):\n"
        "    img, wht = stacks[n]\n"
        "    lo, hi = np.nanpercentile(img, [5, 99.5])\n"
        "    im = row[0].imshow(img, origin='lower', cmap='gray', vmin=lo, vmax=hi)\n"
        "    fig.colorbar(im, ax=row[0], label='e$^-$/s per output pixel')\n"
        "    row[0].set_title(f'{n}-point: drizzled (scale 0.5, pixfrac 0.8)')\n"
        "    im = row[1].imshow(wht, origin='lower', cmap='magma')\n"
        "    fig.colorbar(im, ax=row[1], label='weight [s] (exposure-time weights)')\n"
        "    row[1].set_title(f'{n}-point: weight')\n"
        "    for ax in row:\n"
        "        ax.set_xlabel('output x [pixel of 0.025\u2033]')\n"
        "        ax.set_ylabel('output y [pixel]')\n"
        "fig.tight_layout()"
    ),
    new_markdown_cell(
        "With two frames and `final_pixfrac = 0.8` on a grid twice as fine, output pixels "
        "between the two sets of drops get less weight, so the 2-point weight map is less "
        "uniform than the 4-point one, whose half-pixel phases fill the finer grid evenly. "
        "(The specks in both are the masked cosmic rays.)"
    ),
]


def write(name, cells):
    nb = new_notebook(cells=cells)
    stem = name.split("_", 1)[0]
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell.id = f"nb{stem}-{i:02d}"
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    HERE.mkdir(exist_ok=True)
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    write("01_patterns_and_phases.ipynb", PATTERNS)
    write("02_distortion_and_parallels.ipynb", DISTORTION)
    write("03_simulate_and_drizzle.ipynb", END_TO_END)
