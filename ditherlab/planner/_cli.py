"""Planner sub-commands: ``plan``, ``patterns``, ``apertures``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ditherlab.errors import DitherlabValueError

__all__ = ["pattern_from_args", "register"]

_PATTERN_HELP = """\
pattern to plan: an integer N in {2,3,4,6,8,9} (the sub-pixel family, see --step);
a named STScI pattern (e.g. ACS-WFC-DITHER-BOX; `ditherlab patterns` lists them);
'line' or 'box' (APT LINE/BOX from --npoints/--point-spacing/--line-spacing/--orient/--angle);
'subline' (one-axis sub-pixel line, --npoints, --step, --axis);
'hotpixel' (integer-only dither, --npoints, --step);
or the path of a POS TARG table (.txt/.apt/.ecsv/.csv/.json)"""


def add_pattern_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options that describe a pattern (shared by ``plan`` and ``simulate``)."""
    g = p.add_argument_group("pattern")
    g.add_argument("--pattern", default="4", metavar="SPEC", help=_PATTERN_HELP)
    g.add_argument(
        "--step",
        nargs="+",
        type=float,
        metavar="N",
        help="whole-pixel step(s) n [m] of a sub-pixel, line or hot-pixel pattern",
    )
    g.add_argument(
        "--secondary-step",
        nargs=2,
        type=float,
        metavar=("A", "B"),
        help="whole-pixel parts of the secondary of the 6/8/9-point patterns",
    )
    g.add_argument("--npoints", type=int, help="number of points (line/box/subline/hotpixel)")
    g.add_argument("--point-spacing", type=float, metavar="ARCSEC", help="APT Point_Spacing")
    g.add_argument("--line-spacing", type=float, metavar="ARCSEC", help="APT Line_Spacing")
    g.add_argument("--orient", type=float, metavar="DEG", help="APT Pattern_Orient")
    g.add_argument("--angle", type=float, metavar="DEG", help="APT Angle_Between_Sides")
    g.add_argument("--center", action="store_true", help="APT Center_Pattern=YES")
    g.add_argument("--axis", choices=("x", "y"), default="y", help="axis of a 'subline'")
    g.add_argument(
        "--secondary",
        metavar="SPEC",
        help="a second pattern executed at every point of the first (same SPEC syntax; "
        "its own steps cannot be set separately: use a POS TARG file for full control)",
    )


def _step_pair(step: list[float] | None, default: tuple[float, float]) -> tuple[float, float]:
    if step is None:
        return default
    if len(step) == 1:
        return (step[0], step[0])
    if len(step) == 2:
        return (step[0], step[1])
    raise DitherlabValueError(f"--step takes one or two numbers, got {step}")


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [n for n in names if getattr(args, n) is None]
    if missing:
        opts = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise DitherlabValueError(f"--pattern {args.pattern} needs {opts}")


def _single_pattern(spec: str, args: argparse.Namespace):
    from ditherlab import planner

    key = spec.strip()
    if not key:
        raise DitherlabValueError("--pattern must not be empty")
    if key.lstrip("-").isdigit():
        kw = {"step": _step_pair(args.step, (3, 3))}
        if args.secondary_step is not None:
            kw["secondary_step"] = tuple(args.secondary_step)
        return planner.subpixel(int(key), **kw)
    low = key.lower()
    if low == "line":
        _need(args, "npoints", "point_spacing", "orient")
        return planner.apt_line(args.npoints, args.point_spacing, args.orient, args.center)
    if low == "box":
        _need(args, "point_spacing", "line_spacing", "orient", "angle")
        return planner.apt_box(
            args.point_spacing, args.line_spacing, args.orient, args.angle, args.center
        )
    if low == "subline":
        _need(args, "npoints")
        if args.step is not None and len(args.step) != 1:
            raise DitherlabValueError(f"--step takes one number for a subline, got {args.step}")
        return planner.line(args.npoints, 3.0 if args.step is None else args.step[0], args.axis)
    if low == "hotpixel":
        npoints = 2 if args.npoints is None else args.npoints
        return planner.hot_pixel(npoints, _step_pair(args.step, (2, 2)))
    path = Path(key)
    if path.suffix.lower() in (".txt", ".apt", ".ecsv", ".csv", ".json") or path.exists():
        return planner.read_postargs(path)
    overrides = {}
    if args.npoints is not None:
        overrides["n_points"] = args.npoints
    return planner.standard_pattern(key, **overrides)


def pattern_from_args(args: argparse.Namespace):
    """Build the Pattern described by parsed ``--pattern``/``--secondary`` options."""
    pattern = _single_pattern(args.pattern, args)
    if args.secondary:
        secondary = _single_pattern(args.secondary, args)
        pattern = pattern.cross(secondary)
    return pattern


def _aperture(name: str | None):
    from ditherlab.planner.apertures import get_aperture

    return None if name is None else get_aperture(name)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse before writing anything, so a run is never left half done."""
    for flag, path in (("-o", args.output), ("--plot", args.plot)):
        if path and Path(path).exists() and not args.overwrite:
            raise DitherlabValueError(f"{flag} {path} exists; pass --overwrite to replace it")
        if path and not Path(path).resolve().parent.is_dir():
            raise DitherlabValueError(f"{flag} {path}: directory does not exist")
    if args.plot:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fmt = Path(args.plot).suffix.lstrip(".").lower()
        supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
        if fmt not in supported:
            raise DitherlabValueError(
                f"--plot {args.plot}: unknown image format {fmt!r}; use one of "
                f"{', '.join(sorted(supported))}"
            )


def _cmd_plan(args: argparse.Namespace) -> int:
    from ditherlab import planner

    pattern = pattern_from_args(args)
    ap = _aperture(args.aperture)
    _check_outputs(args)
    at = tuple(args.at) if args.at is not None else None
    if at is not None and ap is None:
        raise DitherlabValueError("--at needs --aperture (a field position on its chip)")
    needs_postarg = args.format in ("apt", "ecsv", "csv", "json") or args.output
    if pattern.frame == "pixel" and ap is None and needs_postarg:
        raise DitherlabValueError(
            f"pattern {pattern.name!r} is in pixels; give --aperture (e.g. acs-wfc1) to turn "
            "it into POS TARGs"
        )
    if args.output:
        table = planner.write_postargs(
            pattern,
            args.output,
            aperture=ap,
            format=args.format if args.format != "table" else None,
            overwrite=args.overwrite,
            at=at,
            decimals=args.decimals,
        )
        print(f"wrote {len(table)} POS TARGs to {args.output}", file=sys.stderr)
    if args.plot:
        _save_plot(pattern, ap, at, args.plot, args.overwrite)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.output:
        return 0
    if args.format == "apt":
        table = planner.postarg_table(pattern, ap, at, decimals=args.decimals)
        sys.stdout.write(planner.format_apt(table))
        return 0
    if args.format in ("ecsv", "csv", "json"):
        raise DitherlabValueError(f"--format {args.format} needs -o FILE")
    _print_plan(pattern, ap, at)
    return 0


def _print_plan(pattern, ap, at) -> None:
    import numpy as np
    from astropy.table import Table

    from ditherlab import planner

    t = Table()
    t["exp"] = list(range(1, len(pattern) + 1))
    if ap is not None:
        post = planner.postarg_table(pattern, ap, at)
        pix = planner.Pattern(
            np.column_stack([post["pixel_x"].value, post["pixel_y"].value]), name=pattern.name
        )
        t["postarg_x"] = post["postarg_x"]
        t["postarg_y"] = post["postarg_y"]
        t["postarg_x"].format = t["postarg_y"].format = ".4f"
    else:
        pix = pattern
    if pix.frame == "pixel":
        t["pixel_x"] = pix.offsets[:, 0]
        t["pixel_y"] = pix.offsets[:, 1]
        ph = pix.phases()
        t["phase_x"] = ph[:, 0]
        t["phase_y"] = ph[:, 1]
        for c in ("pixel_x", "pixel_y"):
            t[c].format = ".3f"
        for c in ("phase_x", "phase_y"):
            t[c].format = ".3f"
    else:
        t["postarg_x"] = pattern.offsets[:, 0]
        t["postarg_y"] = pattern.offsets[:, 1]
    head = f"{pattern.name or 'pattern'}: {len(pattern)} exposures"
    if ap is not None:
        where = ap.reference_pixel if at is None else at
        head += f"; {ap.name} at (x, y) = ({where[0]:.1f}, {where[1]:.1f})"
    print(head)
    t.pprint(max_lines=-1, max_width=-1)


def _save_plot(pattern, ap, at, path, overwrite: bool) -> None:
    from ditherlab._io import write_with
    from ditherlab.planner.plotting import plot_pattern

    fig = plot_pattern(pattern, ap, at)
    fmt = Path(path).suffix.lstrip(".") or "png"
    try:
        write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110), overwrite, "--plot")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _cmd_patterns(args: argparse.Namespace) -> int:
    from ditherlab import planner

    t = planner.standard_patterns()
    cols = ["name", "instrument", "type", "n_points", "point_spacing", "line_spacing"]
    cols += ["pattern_orient", "angle_between_sides", "center", "status"]
    if args.verbose:
        cols += ["purpose", "source"]
    t[cols].pprint(max_lines=-1, max_width=-1)
    print()
    print("sub-pixel families (ditherlab plan --pattern N --step n m): 2, 3, 4, 6, 8, 9 points")
    print("'candidate' = geometry-consistent values not verified against the published table")
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from ditherlab import planner

    for flag, value in (
        ("--cr-rate", args.cr_rate),
        ("--step-arcsec", args.step_arcsec),
        ("--total-time", args.total_time),
        ("--exposure-overhead", args.exposure_overhead),
    ):
        if value is not None and not value >= 0:
            raise DitherlabValueError(f"{flag} {value} must be >= 0")

    t = planner.split_table(
        args.total_time,
        n_exposures=range(1, args.max_exposures + 1),
        cr_rate=args.cr_rate / 1000.0 / 100.0
        if args.cr_rate is not None
        else planner.SEED_WFPC2_CR_RATE,
        source_rate=args.source_rate,
        sky=args.sky,
        dark=args.dark,
        read_noise=args.read_noise,
        n_pix=args.n_pix,
        n_pixels_chip=args.chip_pixels,
        step=args.step_arcsec,
        cr_model=args.cr_model,
        exposure_overhead=args.exposure_overhead,
    )
    t.pprint(max_lines=-1, max_width=-1)
    return 0


def _cmd_apertures(args: argparse.Namespace) -> int:
    from ditherlab.planner.apertures import available_apertures

    t = available_apertures()
    for name in t.colnames:
        if t[name].dtype.kind == "f":
            t[name].format = ".5f" if name.startswith("scale") else ".1f"
    t.pprint(max_lines=-1, max_width=-1)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the planner's sub-commands to ``sub``."""
    p = sub.add_parser(
        "plan",
        help="plan a dither pattern and print or write its POS TARG table",
        description="Plan a dither pattern: print its pixel steps, sub-pixel phases and "
        "POS TARGs, write the POS TARG table for APT, or plot it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  ditherlab plan --pattern 4 --step 5 3 --aperture acs-wfc1\n"
        "  ditherlab plan --pattern ACS-WFC-DITHER-BOX --aperture acs-wfc --format apt\n"
        "  ditherlab plan --pattern 4 --aperture wfc3-ir -o box.ecsv --plot box.png\n"
        "  ditherlab plan --pattern ACS-WFC-DITHER-LINE --secondary ACS-WFC-DITHER-BOX \\\n"
        "      --aperture acs-wfc --at 100 1900",
    )
    add_pattern_arguments(p)
    p.add_argument("--aperture", metavar="NAME", help="aperture (`ditherlab apertures` lists)")
    p.add_argument(
        "--at",
        nargs=2,
        type=float,
        metavar=("X", "Y"),
        help="field position (0-based flt pixels) for the pixel steps; default the "
        "aperture's reference pixel",
    )
    p.add_argument(
        "--format",
        choices=("table", "apt", "ecsv", "csv", "json"),
        default="table",
        help="output format (default: a readable table on stdout; with -o: from the "
        "file extension)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the POS TARG table here")
    p.add_argument("--decimals", type=int, default=4, help="APT precision (default 4)")
    p.add_argument("--plot", metavar="PNG", help="draw the pixel steps and sub-pixel phases")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=_cmd_plan)

    q = sub.add_parser(
        "patterns",
        help="list the named STScI patterns",
        description="List the named STScI convenience patterns with their APT parameters.",
    )
    q.add_argument("-v", "--verbose", action="store_true", help="add purpose and source")
    q.set_defaults(func=_cmd_patterns)

    sp = sub.add_parser(
        "split",
        help="S/N, cosmic-ray loss and overhead for N = 1 … 9 exposures",
        description="Tabulate S/N, the fraction of pixels lost to cosmic rays in every "
        "exposure, and telescope-move overhead when a total time is split into N exposures. "
        "Defaults reproduce the DrizzlePac Handbook's WFPC2 example (Table 2.1).",
    )
    sp.add_argument("--total-time", type=float, default=3000.0, help="seconds (default 3000)")
    sp.add_argument("--max-exposures", type=int, default=9, help="tabulate N = 1 … this")
    sp.add_argument(
        "--cr-rate",
        type=float,
        help="per cent of pixels hit per 1000 s (default 3.2, the handbook's WFPC2 table)",
    )
    sp.add_argument("--cr-model", choices=("linear", "poisson"), default="linear")
    sp.add_argument("--source-rate", type=float, default=87 / 3000, help="e-/s (source)")
    sp.add_argument("--sky", type=float, default=0.0, help="e-/s/pixel")
    sp.add_argument("--dark", type=float, default=0.005, help="e-/s/pixel")
    sp.add_argument("--read-noise", type=float, default=5.24, help="e- per read")
    sp.add_argument("--n-pix", type=float, default=11.2, help="effective pixels of the source")
    sp.add_argument("--chip-pixels", type=int, default=800 * 800, help="pixels per chip")
    sp.add_argument("--step-arcsec", type=float, default=0.3, help="dither step size")
    sp.add_argument(
        "--exposure-overhead",
        type=float,
        default=0.0,
        metavar="S",
        help="instrument overhead per exposure (read-out etc.); default 0: moves only",
    )
    sp.set_defaults(func=_cmd_split)

    r = sub.add_parser(
        "apertures",
        help="list the built-in apertures",
        description="List the built-in HST apertures (SIAF names and aliases).",
    )
    r.set_defaults(func=_cmd_apertures)
