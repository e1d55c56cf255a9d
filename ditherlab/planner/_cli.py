"""Planner sub-commands: ``plan``, ``patterns``, ``apertures``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ditherlab.errors import DitherlabValueError

__all__ = ["pattern_from_args", "register"]

_PATTERN_HELP = """\
pattern to plan: an integer N in {2,3,4,6,8,9} (the sub-pixel family, see --step);
a named STScI pattern (e.g. ACS-WFC-DITHER-BOX; `ditherlab patterns` lists them;
--npoints/--point-spacing/--line-spacing/--orient/--angle/--center change its APT values);
'line' or 'box' (APT LINE/BOX from --npoints/--point-spacing/--line-spacing/--orient/--angle);
'subline' (one-axis sub-pixel line, --npoints, --step, --axis);
'hotpixel' (integer-only dither, --npoints, --step);
or the path of a POS TARG table (.txt/.apt/.ecsv/.csv/.json).
Options the pattern does not use are refused."""


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
    g.add_argument(
        "--npoints", type=int, help="number of points (line/subline/hotpixel/named LINE)"
    )
    g.add_argument("--point-spacing", type=float, metavar="ARCSEC", help="APT Point_Spacing")
    g.add_argument("--line-spacing", type=float, metavar="ARCSEC", help="APT Line_Spacing")
    g.add_argument("--orient", type=float, metavar="DEG", help="APT Pattern_Orient")
    g.add_argument("--angle", type=float, metavar="DEG", help="APT Angle_Between_Sides")
    g.add_argument(
        "--center", action="store_const", const=True, help="APT Center_Pattern=YES"
    )
    g.add_argument("--axis", choices=("x", "y"), help="axis of a 'subline' (default y)")
    g.add_argument(
        "--secondary",
        metavar="SPEC",
        help="a second pattern executed at every point of the first (same SPEC syntax; "
        "its own steps cannot be set separately: use a POS TARG file for full control)",
    )
    g.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="use a POS TARG pattern made for another camera than --aperture (a named "
        "pattern of another instrument, or a table written for another detector)",
    )


#: The pattern options, by argparse dest, with the flag users type.
_PATTERN_OPTIONS = {
    "step": "--step",
    "secondary_step": "--secondary-step",
    "npoints": "--npoints",
    "point_spacing": "--point-spacing",
    "line_spacing": "--line-spacing",
    "orient": "--orient",
    "angle": "--angle",
    "center": "--center",
    "axis": "--axis",
}


def _step_pair(step: list[float] | None, default: tuple[float, float]) -> tuple[float, float]:
    if step is None:
        return default
    if len(step) == 1:
        return (step[0], step[0])
    if len(step) == 2:
        return (step[0], step[1])
    raise DitherlabValueError(f"--step takes one or two numbers, got {step}")


def _need(args: argparse.Namespace, flag: str, spec: str, *names: str) -> None:
    missing = [n for n in names if getattr(args, n) is None]
    if missing:
        opts = ", ".join(_PATTERN_OPTIONS[n] for n in missing)
        raise DitherlabValueError(f"{flag} {spec} needs {opts}")


def _subpixel_from_args(key: str, flag: str, args: argparse.Namespace):
    import numpy as np

    from ditherlab import planner

    n = int(key)
    if n not in planner.SUBPIXEL_NPOINTS:
        raise DitherlabValueError(
            f"{flag} {key}: a sub-pixel family has {', '.join(map(str, planner.SUBPIXEL_NPOINTS))}"
            " points"
        )
    kw = {"step": _step_pair(args.step, (3, 3))}
    if not all(float(v).is_integer() or not np.isfinite(v) for v in kw["step"]):
        raise DitherlabValueError(
            f"--step {' '.join(f'{v:g}' for v in args.step)}: the sub-pixel families take "
            "whole-pixel steps (the family fixes the phases; use a POS TARG file for others)"
        )
    used = {"step"}
    if n in (6, 8, 9):
        used.add("secondary_step")
        if args.secondary_step is not None:
            kw["secondary_step"] = tuple(args.secondary_step)
    return planner.subpixel(n, **kw), used


def _named_from_args(key: str, flag: str, args: argparse.Namespace):
    from ditherlab import planner
    from ditherlab.errors import PatternNotFoundError

    try:
        info = planner.standard_pattern_info(key)
    except PatternNotFoundError as exc:
        msg = str(exc).removeprefix(f"name={key!r} ")
        raise PatternNotFoundError(f"{flag} {key}: {msg}") from None
    names = {"npoints": "n_points", "point_spacing": "point_spacing", "orient": "pattern_orient"}
    names["center"] = "center"
    if info.shape == "BOX":
        names.update(line_spacing="line_spacing", angle="angle_between_sides")
        if args.npoints is not None and args.npoints != 4:
            raise DitherlabValueError(f"--npoints {args.npoints}: {info.name} has 4 points")
    overrides = {
        kw: getattr(args, dest)
        for dest, kw in names.items()
        if getattr(args, dest) is not None and not (dest == "npoints" and info.shape == "BOX")
    }
    return info.pattern(**overrides), set(names)


def _single_pattern(spec: str, args: argparse.Namespace, flag: str = "--pattern"):
    """The pattern ``spec`` names and the pattern options it used (argparse dests)."""
    from ditherlab import planner

    key = spec.strip()
    if not key:
        raise DitherlabValueError(f"{flag} must not be empty")
    if key.lstrip("-").isdigit():
        return _subpixel_from_args(key, flag, args)
    low = key.lower()
    center = bool(args.center)
    if low == "line":
        _need(args, flag, spec, "npoints", "point_spacing", "orient")
        pat = planner.apt_line(args.npoints, args.point_spacing, args.orient, center)
        return pat, {"npoints", "point_spacing", "orient", "center"}
    if low == "box":
        _need(args, flag, spec, "point_spacing", "line_spacing", "orient", "angle")
        pat = planner.apt_box(
            args.point_spacing, args.line_spacing, args.orient, args.angle, center
        )
        return pat, {"point_spacing", "line_spacing", "orient", "angle", "center"}
    if low == "subline":
        _need(args, flag, spec, "npoints")
        if args.step is not None and len(args.step) != 1:
            raise DitherlabValueError(f"--step takes one number for a subline, got {args.step}")
        step = 3.0 if args.step is None else args.step[0]
        return planner.line(args.npoints, step, args.axis or "y"), {"npoints", "step", "axis"}
    if low == "hotpixel":
        npoints = 2 if args.npoints is None else args.npoints
        return planner.hot_pixel(npoints, _step_pair(args.step, (2, 2))), {"npoints", "step"}
    path = Path(key)
    if path.is_dir():
        raise DitherlabValueError(f"{flag} {spec}: is a directory, not a POS TARG table")
    if path.suffix.lower() in (".txt", ".apt", ".ecsv", ".csv", ".json") or path.exists():
        if not path.exists():
            raise DitherlabValueError(f"{flag} {spec}: file does not exist")
        return planner.read_postargs(path), set()
    return _named_from_args(key, flag, args)


#: Library keyword -> the flag that set it, to name the user's flag in pattern errors.
_FLAG_OF_KEYWORD = {
    "n_points": "--npoints",
    "npoints": "--npoints",
    "point_spacing": "--point-spacing",
    "line_spacing": "--line-spacing",
    "pattern_orient": "--orient",
    "orient": "--orient",
    "angle_between_sides": "--angle",
    "angle": "--angle",
    "step": "--step",
    "secondary_step": "--secondary-step",
}


def _pattern_with_flags(spec: str, args: argparse.Namespace, flag: str = "--pattern"):
    """:func:`_single_pattern`, its ``keyword=value`` errors re-worded with the user's flag."""
    import re

    try:
        return _single_pattern(spec, args, flag)
    except DitherlabValueError as exc:
        m = re.match(r"(\w+)=(\S+) (.*)", str(exc), re.DOTALL)
        if m is None or m.group(1) not in _FLAG_OF_KEYWORD:
            raise
        raise DitherlabValueError(
            f"{flag} {spec}: {_FLAG_OF_KEYWORD[m.group(1)]} {m.group(2)} {m.group(3)}"
        ) from None


def _refuse_unused(args: argparse.Namespace, used: set[str], what: str) -> None:
    unused = [
        flag for dest, flag in _PATTERN_OPTIONS.items() if getattr(args, dest) is not None
        and dest not in used
    ]
    if unused:
        raise DitherlabValueError(f"{', '.join(unused)} not used by {what}; leave it out")


def pattern_from_args(args: argparse.Namespace):
    """Build the Pattern described by parsed ``--pattern``/``--secondary`` options.

    Options the pattern(s) do not use are refused, and a POS TARG pattern made for another
    camera than ``--aperture`` is refused unless ``--allow-mismatch`` (see
    :func:`ditherlab.planner.check_pattern_aperture`).
    """
    from ditherlab.planner.checks import check_pattern_aperture, pattern_camera

    pattern, used = _pattern_with_flags(args.pattern, args)
    parts, what = [pattern], f"--pattern {args.pattern}"
    if args.secondary:
        secondary, used2 = _pattern_with_flags(args.secondary, args, "--secondary")
        parts.append(secondary)
        used |= used2
        what += f" --secondary {args.secondary}"
    _refuse_unused(args, used, what)
    cameras = {c for c in map(pattern_camera, parts) if c is not None}
    allow = bool(getattr(args, "allow_mismatch", False))
    if len(cameras) > 1 and not allow:
        raise DitherlabValueError(
            f"{what} mixes patterns of {' and '.join(sorted(cameras))}; the Phase II "
            "Proposal Instructions say not to mix instrument-specific patterns "
            "(--allow-mismatch to do it anyway)"
        )
    aperture = getattr(args, "aperture", None)
    if aperture is not None:
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for part in parts:
                check_pattern_aperture(part, aperture, allow_mismatch=allow)
        command = getattr(args, "command", "plan")
        for w in caught:  # one line each, like the errors
            print(f"ditherlab {command}: warning: {w.message}", file=sys.stderr)
    if len(parts) == 2:
        if parts[0].frame != parts[1].frame:
            if aperture is None:
                raise DitherlabValueError(
                    f"{what}: one pattern is in pixels, the other in POS TARG arcsec; give "
                    "--aperture to combine them"
                )
            from ditherlab.planner.apertures import get_aperture

            ap = get_aperture(aperture)  # pixel steps as POS TARGs at the reference pixel
            parts = [p if p.frame == "postarg" else ap.postarg_offsets(p) for p in parts]
        pattern = parts[0].cross(parts[1])
        _refuse_repeats(pattern, what)
    return pattern


def _refuse_repeats(pattern, what: str) -> None:
    """Refuse a crossed pattern whose exposures repeat pointings (e.g. ``4`` × ``4``)."""
    import numpy as np

    distinct = len(np.unique(np.round(pattern.offsets, 9), axis=0))
    if distinct < len(pattern):
        raise DitherlabValueError(
            f"{what} gives {len(pattern)} exposures at only {distinct} distinct pointings "
            "(the secondary repeats the primary's steps); choose a secondary with other "
            "steps, or write the pointings you want to a POS TARG file"
        )


def _aperture(name: str | None, flag: str = "--aperture"):
    from ditherlab.errors import ApertureNotFoundError
    from ditherlab.planner.apertures import get_aperture

    if name is None:
        return None
    try:
        return get_aperture(name)
    except ApertureNotFoundError as exc:
        raise ApertureNotFoundError(f"{flag} {name}: {exc}") from None


def _check_plot_format(path: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fmt = Path(path).suffix.lstrip(".").lower()
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if fmt not in supported:
        raise DitherlabValueError(
            f"--plot {path}: unknown image format {fmt!r}; use one of "
            f"{', '.join(sorted(supported))}"
        )
    return fmt


def _cmd_plan(args: argparse.Namespace) -> int:
    from ditherlab import planner

    ap = _aperture(args.aperture)
    pattern = pattern_from_args(args)
    at = tuple(args.at) if args.at is not None else None
    if at is not None and ap is None:
        raise DitherlabValueError("--at needs --aperture (a field position on its chip)")
    if at is not None:
        ap._at(at, name="--at")  # finite and on the chip, checked before any work
    if not 0 <= args.decimals <= 10:
        raise DitherlabValueError(f"--decimals {args.decimals} must be between 0 and 10")
    needs_postarg = args.format in ("apt", "ecsv", "csv", "json") or args.output
    if pattern.frame == "pixel" and ap is None and needs_postarg:
        raise DitherlabValueError(
            f"pattern {pattern.name!r} is in pixels; give --aperture (e.g. acs-wfc1) to turn "
            "it into POS TARGs"
        )
    if args.format in ("ecsv", "csv", "json") and not args.output:
        raise DitherlabValueError(f"--format {args.format} needs -o FILE")
    # build every product first, then write them all or none
    outputs = []
    if args.output:
        given = None if args.format == "table" else args.format
        try:
            fmt = planner.postarg_format(args.output, given)
        except DitherlabValueError:
            raise DitherlabValueError(
                f"--format {args.format} contradicts the extension of -o {args.output}: it "
                "would not read back by its name; rename the file or leave --format out"
            ) from None
        decimals = args.decimals if fmt == "apt" else None
        table = planner.postarg_table(pattern, ap, at, decimals, force=args.force)
        outputs.append(("-o", args.output, _table_writer(table, fmt)))
    if args.plot:
        outputs.append(("--plot", args.plot, _plot_writer(pattern, ap, at, args.plot)))
    if outputs:
        from ditherlab._io import write_all_or_nothing

        write_all_or_nothing(outputs, args.overwrite)
        for flag, path, _ in outputs:
            what = f"{len(table)} POS TARGs to " if flag == "-o" else ""
            print(f"wrote {what}{path}", file=sys.stderr)
        return 0
    if args.format == "apt":
        table = planner.postarg_table(pattern, ap, at, decimals=args.decimals, force=args.force)
        sys.stdout.write(planner.format_apt(table))
        return 0
    _print_plan(pattern, ap, at)
    return 0


def _table_writer(table, fmt: str):
    from ditherlab import planner

    return lambda tmp: planner.write_postarg_table(table, tmp, fmt, overwrite=True)


def _plot_writer(pattern, ap, at, path: str):
    fmt = _check_plot_format(path)
    from ditherlab.planner.plotting import plot_pattern

    fig = plot_pattern(pattern, ap, at)

    def write(tmp) -> None:
        import matplotlib.pyplot as plt

        try:
            fig.savefig(tmp, format=fmt, dpi=110)
        finally:
            plt.close(fig)

    return write


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


def _cmd_patterns(args: argparse.Namespace) -> int:
    from ditherlab import planner

    t = planner.standard_patterns()
    cols = ["name", "instrument", "type", "n_points", "point_spacing", "line_spacing"]
    cols += ["pattern_orient", "angle_between_sides", "center", "epoch", "status"]
    if args.verbose:
        cols += ["purpose", "source"]
    t[cols].pprint(max_lines=-1, max_width=-1)
    print()
    print("sub-pixel families (ditherlab plan --pattern N --step n m): 2, 3, 4, 6, 8, 9 points")
    print("epoch: the APT cycles the values belong to. status: 'published' = every value quoted")
    print("from STScI; 'partly published' = some carried over (see the note); 'unconfirmed' =")
    print("geometry-consistent values not checked against the published table (ditherlab")
    print("patterns -v shows sources; standard_pattern_info(name).note the details)")
    return 0


def _split_settings(args: argparse.Namespace) -> dict:
    """split_table keywords: the preset's numbers, replaced by any option given."""
    from ditherlab import planner

    name = args.aperture or "wfpc2"
    preset = planner.detector_preset(name if name.lower() == "wfpc2" else _aperture(name))
    given = {
        "cr_rate": None if args.cr_rate is None else args.cr_rate / 1000.0 / 100.0,
        "read_noise": args.read_noise,
        "dark": args.dark,
        "n_pixels_chip": args.chip_pixels,
        "exposure_overhead": args.exposure_overhead,
    }
    defaults = {
        "cr_rate": preset.cr_rate,
        "read_noise": preset.read_noise,
        "dark": preset.dark,
        "n_pixels_chip": preset.n_pixels_chip,
        "exposure_overhead": 0.0 if not args.orbit else None,
    }
    kw = {k: defaults[k] if v is None else v for k, v in given.items()}
    return {"preset": preset, **kw}


#: Largest ``split --max-exposures``: far more exposures than fit in any HST orbit, and a
#: bound on the table's size (a typo of 10**8 would otherwise run for ever).
_MAX_EXPOSURES = 100


def _check_split_args(args: argparse.Namespace) -> None:
    import math

    for flag, value in (
        ("--cr-rate", args.cr_rate),
        ("--step-arcsec", args.step_arcsec),
        ("--exposure-overhead", args.exposure_overhead),
        ("--read-noise", args.read_noise),
        ("--dark", args.dark),
        ("--sky", args.sky),
        ("--source-rate", args.source_rate),
    ):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise DitherlabValueError(f"{flag} {value:g} must be finite and >= 0")
    for flag, value in (("--total-time", args.total_time), ("--n-pix", args.n_pix)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise DitherlabValueError(f"{flag} {value:g} must be finite and > 0")
    if args.chip_pixels is not None and args.chip_pixels < 1:
        raise DitherlabValueError(f"--chip-pixels {args.chip_pixels} must be >= 1")
    if not 1 <= args.max_exposures <= _MAX_EXPOSURES:
        raise DitherlabValueError(
            f"--max-exposures {args.max_exposures} must be between 1 and {_MAX_EXPOSURES}"
        )
    if args.orbit and args.total_time is not None:
        raise DitherlabValueError("--total-time and --orbit exclude each other")
    if not args.orbit:
        for flag, value in (("--visibility", args.visibility), ("--declination", args.declination)):
            if value is not None:
                raise DitherlabValueError(f"{flag} needs --orbit")
    if args.visibility is not None and args.declination is not None:
        raise DitherlabValueError("--visibility and --declination exclude each other")
    if args.visibility is not None and not args.visibility > 0:
        raise DitherlabValueError(f"--visibility {args.visibility} must be > 0 (minutes)")
    if args.declination is not None and not -90 <= args.declination <= 90:
        raise DitherlabValueError(f"--declination {args.declination} must be within ±90°")


def _cmd_split(args: argparse.Namespace) -> int:
    from ditherlab import planner

    _check_split_args(args)
    kw = _split_settings(args)
    preset = kw.pop("preset")
    ns = list(range(1, args.max_exposures + 1))
    if args.orbit:
        vis = args.visibility * 60.0 if args.visibility is not None else None
        if args.declination is not None:
            vis = planner.orbit_visibility(args.declination)
        packed = planner.pack_orbit(
            preset, ns, vis, args.step_arcsec, first_orbit=not args.reacquisition
        )
        if args.exposure_overhead is not None:  # the user's own per-exposure figure
            per = args.exposure_overhead
            packed = planner.pack_orbit(
                dataclasses.replace(preset, first_exposure_overhead=per, exposure_overhead=per),
                ns, vis, args.step_arcsec, first_orbit=not args.reacquisition,
            )
        fits = packed[packed["exptime"] > 0]
        if len(fits) == 0:
            raise DitherlabValueError("no exposure fits in the orbit's visibility")
        totals, ns = list(fits["science_time"].value), list(fits["n_exposures"])
        kw["exposure_overhead"] = 0.0
    else:
        totals = 3000.0 if args.total_time is None else args.total_time
    _check_cr_rate(args, kw["cr_rate"], totals)
    t = planner.split_table(
        totals,
        n_exposures=ns,
        source_rate=args.source_rate,
        sky=args.sky,
        n_pix=args.n_pix,
        step=args.step_arcsec,
        cr_model=args.cr_model,
        **kw,
    )
    if args.orbit:
        over = fits["acquisition"] + fits["instrument_overhead"] + fits["buffer_dumps"]
        t["overhead"] = (over + fits["move_overhead"]).value * t["overhead"].unit
        t["overhead"].format = ".1f"
    print(f"{preset.camera}: {preset.sources}")
    if args.orbit:
        vis_s = packed.meta["visibility"]
        head = "re-acquisition" if args.reacquisition else "guide-star acquisition"
        print(f"one orbit of {vis_s / 60:.1f} min visibility, {head} included")
    t.pprint(max_lines=-1, max_width=-1)
    if args.orbit and packed.meta["do_not_fit"]:
        print(f"N = {packed.meta['do_not_fit']} do not fit in the orbit", file=sys.stderr)
    if args.orbit:
        _note_buffer_dumps(fits, preset)
    return 0


def _note_buffer_dumps(fits, preset) -> None:
    """Say which N lose time to serial buffer dumps (else a collapse to seconds is a puzzle)."""
    pairs = zip(fits["n_exposures"], fits["buffer_dumps"], strict=True)
    dumped = [int(n) for n, d in pairs if d > 0]
    if dumped:
        print(
            f"N = {dumped}: exposures shorter than {preset.buffer_dump_below:g} s each pay a "
            f"{preset.buffer_dump / 60:g} min serial buffer dump (ACS IHB §8.2), included in "
            "the overhead column; fewer exposures or a subarray avoid it",
            file=sys.stderr,
        )


def _check_cr_rate(args: argparse.Namespace, rate: float, totals) -> None:
    longest = max(totals) if isinstance(totals, list) else totals
    if args.cr_model == "linear" and rate * longest > 1:
        flag = f"--cr-rate {args.cr_rate:g}" if args.cr_rate is not None else "the CR rate"
        raise DitherlabValueError(
            f"{flag} (%/1000 s) gives a hit probability of {rate * longest:.3g} > 1 in a "
            f"{longest:g} s exposure under the linear model; lower it, or use --cr-model "
            "poisson"
        )


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
    p.add_argument(
        "--force",
        action="store_true",
        help="write APT values even if --decimals rounding moves an exposure by more than "
        "0.05 px or merges two exposures",
    )
    p.set_defaults(func=_cmd_plan)
    _register_lists(sub)
    _register_split(sub)


def _register_lists(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "patterns",
        help="list the named STScI patterns",
        description="List the named STScI convenience patterns with their APT parameters.",
    )
    q.add_argument("-v", "--verbose", action="store_true", help="add purpose and source")
    q.set_defaults(func=_cmd_patterns)
    r = sub.add_parser(
        "apertures",
        help="list the built-in apertures",
        description="List the built-in HST apertures (SIAF names and aliases).",
    )
    r.set_defaults(func=_cmd_apertures)


def _register_split(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser(
        "split",
        help="S/N, cosmic-ray loss and overhead for N = 1 … 9 exposures",
        description="Tabulate S/N, the fraction of pixels lost to cosmic rays in every "
        "exposure, and overheads when a total time (or one orbit) is split into N "
        "exposures. Without --aperture the numbers reproduce the DrizzlePac Handbook's "
        "WFPC2 example (Table 2.1); --aperture takes the detector's read noise, dark, CR "
        "rate, chip size and overheads (each cited in ditherlab.planner.orbit).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  ditherlab split                                   # the handbook's WFPC2 table\n"
        "  ditherlab split --aperture acs-wfc --total-time 2400\n"
        "  ditherlab split --aperture wfc3-uvis --orbit --declination 40",
    )
    sp.add_argument(
        "--aperture",
        metavar="NAME",
        help="detector preset by aperture name (acs-wfc, acs-hrc, acs-sbc, wfc3-uvis, "
        "wfc3-ir, wfpc2); default the seed's WFPC2 example",
    )
    sp.add_argument("--total-time", type=float, help="seconds (default 3000)")
    sp.add_argument(
        "--orbit",
        action="store_true",
        help="fill one orbit: the time per exposure is what the visibility leaves after "
        "guide-star acquisition, per-exposure overheads and dither moves",
    )
    sp.add_argument("--visibility", type=float, metavar="MIN", help="with --orbit (default 54)")
    sp.add_argument(
        "--declination", type=float, metavar="DEG", help="with --orbit: visibility from dec"
    )
    sp.add_argument(
        "--reacquisition",
        action="store_true",
        help="with --orbit: a later orbit of the visit (guide-star re-acquisition)",
    )
    sp.add_argument("--max-exposures", type=int, default=9, help="tabulate N = 1 … this")
    sp.add_argument(
        "--cr-rate",
        type=float,
        help="per cent of pixels hit per 1000 s (default: the preset's; WFPC2 3.2)",
    )
    sp.add_argument("--cr-model", choices=("linear", "poisson"), default="linear")
    sp.add_argument("--source-rate", type=float, default=87 / 3000, help="e-/s (source)")
    sp.add_argument("--sky", type=float, default=0.0, help="e-/s/pixel")
    sp.add_argument("--dark", type=float, help="e-/s/pixel (default: the preset's)")
    sp.add_argument("--read-noise", type=float, help="e- per read (default: the preset's)")
    sp.add_argument("--n-pix", type=float, default=11.2, help="effective pixels of the source")
    sp.add_argument("--chip-pixels", type=int, help="pixels per chip (default: the preset's)")
    sp.add_argument("--step-arcsec", type=float, default=0.3, help="dither step size")
    sp.add_argument(
        "--exposure-overhead",
        type=float,
        metavar="S",
        help="instrument overhead per exposure (read-out etc.); default 0 without "
        "--orbit (moves only), the preset's with --orbit",
    )
    sp.set_defaults(func=_cmd_split)
