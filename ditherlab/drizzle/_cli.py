"""The ``ditherlab drizzle`` sub-command: the AstroDrizzle-style pipeline on flt files."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ditherlab.errors import DitherlabValueError, OutputExistsError

__all__ = ["PRESETS", "register"]

#: ``--preset`` names → (INSTRUME, DETECTOR) for PipelineConfig.for_instrument.
PRESETS = {
    "acs-wfc": ("ACS", "WFC"),
    "acs-hrc": ("ACS", "HRC"),
    "acs-sbc": ("ACS", "SBC"),
    "wfc3-uvis": ("WFC3", "UVIS"),
    "wfc3-ir": ("WFC3", "IR"),
    "wfpc2": ("WFPC2", "WFPC2"),
}


def _parameters(args: argparse.Namespace) -> dict[str, str]:
    """AstroDrizzle parameters given on the command line: ``--final-scale`` and ``--set``."""
    from ditherlab.drizzle.pipeline.config import PipelineConfig

    values: dict[str, str] = {}
    for f in dataclasses.fields(PipelineConfig):
        v = getattr(args, f"par_{f.name}", None)
        if v is not None:
            values[f.name] = v
    for item in args.set or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DitherlabValueError(f"--set {item!r} must be NAME=VALUE")
        name, value = name.strip(), value.strip()
        if name in values and str(values[name]) != value:
            flag = "--" + name.replace("_", "-")
            raise DitherlabValueError(
                f"--set {item!r} contradicts {flag} {values[name]!r}: give {name} once"
            )
        values[name] = value
    return values


def _config(args: argparse.Namespace, exposures: list) -> object:
    from ditherlab.drizzle.pipeline.config import PipelineConfig

    params = _parameters(args)
    if args.preset is None:
        return PipelineConfig.from_mapping(params)
    inst, det = PRESETS[args.preset]
    first = exposures[0]
    if (first.instrument, first.detector if inst != "WFPC2" else "WFPC2") != (inst, det):
        raise DitherlabValueError(
            f"--preset {args.preset} is for {inst}/{det} but {first.name!r} is "
            f"{first.instrument}/{first.detector}"
        )
    date = args.date if args.date is not None else min(e.expstart for e in exposures)
    base = PipelineConfig.for_instrument(inst, det, date)
    return PipelineConfig.from_mapping(params, base=base)


def _cmd_drizzle(args: argparse.Namespace) -> int:
    from ditherlab._io import check_output_dir
    from ditherlab.drizzle.pipeline.inputs import load_inputs
    from ditherlab.drizzle.pipeline.products import product_paths
    from ditherlab.drizzle.pipeline.run import run_pipeline

    # the folder may not exist yet: it is made only once the run has succeeded
    outdir = check_output_dir(args.outdir, "-o")
    quiet = args.quiet
    if not quiet:
        print(f"drizzle: reading {len(args.inputs)} input(s)", file=sys.stderr, flush=True)
    exposures = load_inputs(args.inputs)
    cfg = _config(args, exposures)
    for name, where in (("update_dq", "products.dq"), ("driz_cr_corr", "products.crclean")):
        if getattr(cfg, name):
            raise DitherlabValueError(
                f"--{name.replace('_', '-')}: the command writes no such files (inputs are "
                f"never modified); run_pipeline returns them as {where}"
            )
    # bad names and existing outputs are refused before the (long) run, not after it
    drz, masks, sky = product_paths(outdir, args.output, [e.name for e in exposures])
    if not args.overwrite:
        for p in (drz, *masks, sky):
            if p.exists():
                raise OutputExistsError(f"{str(p)!r} exists; pass --overwrite to replace it")

    def progress(step: str, done: int, total: int) -> None:
        if not quiet:
            print(f"drizzle: {step} {done}/{total}", file=sys.stderr, flush=True)

    products = run_pipeline(exposures, cfg, progress=progress)
    outdir.mkdir(parents=True, exist_ok=True)
    written = products.write_all(outdir, args.output, overwrite=args.overwrite)
    for p in written:
        print(p, flush=True)
    if not quiet:
        ncr = [sum(int(m.sum()) for m in ms) for ms in products.cr_masks]
        times = ", ".join(f"{k} {v:.1f} s" for k, v in products.timings.items())
        print(
            f"drizzle: cosmic-ray pixels per input {ncr}; sky ({products.sky_method}) "
            f"{[round(s, 2) for row in products.sky for s in row]} e-; {times}",
            file=sys.stderr,
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``drizzle`` sub-command to ``sub``."""
    from ditherlab.drizzle.pipeline.config import PipelineConfig

    p = sub.add_parser(
        "drizzle",
        help="AstroDrizzle-style pipeline: sky, CR rejection, final drizzle of flt files",
        description="Combine *_flt.fits / *_flc.fits exposures as AstroDrizzle does: static "
        "mask, sky, separate drizzle, median, blot, cosmic-ray detection and final drizzle. "
        "Writes <output>_drz.fits (SCI, WHT, CTX; parameters in the header), one "
        "<input>_crmask.fits per input (1 = good, 0 = cosmic ray) and <output>_sky.ecsv "
        "(MDRIZSKY of every chip). The inputs are never modified.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  ditherlab drizzle sim/*_flt.fits -o out --preset acs-wfc\n"
        "  ditherlab drizzle sim/*_flt.fits -o out --final-scale 0.025 --final-pixfrac 0.8 \\\n"
        "      --set combine_type=median --set combine_nhigh=1\n"
        "Every AstroDrizzle parameter is an option (--final-bits 336, --driz-cr-snr '3.5 3.0',\n"
        "--skysub no ...) or can be given as --set NAME=VALUE.",
    )
    p.add_argument("inputs", nargs="+", metavar="FLT", help="input *_flt.fits / *_flc.fits files")
    p.add_argument("-o", "--outdir", required=True, metavar="DIR", help="output directory")
    p.add_argument("--output", default="final", help="product name stem (default: final)")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="start from the pipeline's MDRIZTAB values for this camera (bits, scale)",
    )
    p.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="observation date for --preset (default: the inputs' earliest EXPSTART)",
    )
    p.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="any AstroDrizzle parameter"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing products")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    g = p.add_argument_group("AstroDrizzle parameters (names and defaults as AstroDrizzle's)")
    for f in dataclasses.fields(PipelineConfig):
        default = getattr(PipelineConfig(), f.name)
        g.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f"par_{f.name}",
            metavar="V",
            help=f"default {default!r}" if default not in ("", None) else "default: none",
        )
    p.set_defaults(func=_cmd_drizzle)
