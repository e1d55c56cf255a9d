"""The ``ditherlab simulate`` sub-command."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from ditherlab.errors import DitherlabValueError

__all__ = ["register"]


def _read_scene(path: str):
    """``Scene.read`` with astropy's warnings about a broken file folded into its error.

    A truncated FITS file makes astropy warn (three lines of ``VerifyWarning``) before it
    fails; the clean one-line error says the same.  Warnings of a read that succeeds are
    passed on.
    """
    import warnings

    from ditherlab.simulate.scene import Scene

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = Scene.read(path)  # raises FileFormatError: the warnings are dropped
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return scene


def _check_combinations(args: argparse.Namespace) -> None:
    """Refuse options that would do nothing in this combination."""
    if args.psf is None and args.psf_oversampling is not None:
        raise DitherlabValueError(
            f"--psf-oversampling {args.psf_oversampling} does nothing without --psf (it is "
            "the sampling of a PSF image); give --psf FITS or drop it"
        )
    if args.scene is not None:
        for flag, value in (
            ("--nstars", args.nstars),
            ("--ngalaxies", args.ngalaxies),
            ("--field-size", args.field_size),
        ):
            if value is not None:
                raise DitherlabValueError(
                    f"{flag} {value} does nothing with --scene (it shapes the random field "
                    "drawn when no --scene is given); drop one of them"
                )


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse out-of-range numbers here, naming the flag the user typed."""
    import math

    checks = [
        ("--exptime", args.exptime, lambda v: math.isfinite(v) and v > 0, "a number > 0 (s)"),
        ("--nstars", args.nstars, lambda v: v >= 0, ">= 0"),
        ("--ngalaxies", args.ngalaxies, lambda v: v >= 0, ">= 0"),
        ("--seed", args.seed, lambda v: v >= 0, "a non-negative integer"),
        ("--psf-jitter", args.psf_jitter, lambda v: math.isfinite(v) and v >= 0, ">= 0 (mas)"),
        ("--jitter", args.jitter, lambda v: math.isfinite(v) and v >= 0, ">= 0 (mas)"),
        ("--field-size", args.field_size, lambda v: math.isfinite(v) and v > 0, "> 0 (arcsec)"),
    ]
    for flag, value, ok, want in checks:
        if value is not None and not ok(value):
            raise DitherlabValueError(f"{flag} {value} must be {want}")
    if args.subarray is not None and min(args.subarray[2:]) <= 0:
        raise DitherlabValueError(
            f"--subarray {' '.join(map(str, args.subarray))}: the size NX NY must be > 0"
        )


def _max_memory(args: argparse.Namespace) -> float | None:
    if args.max_memory is None:
        return None
    if not (args.max_memory > 0):  # also refuses nan
        raise DitherlabValueError(f"--max-memory {args.max_memory} must be > 0 (GiB)")
    return float(args.max_memory) * 2**30


def _run_output(args: argparse.Namespace, root: str, names: list[str], aperture: str, pattern):
    """The run's files as a unit (staged, manifest), with their truth files added."""
    from ditherlab._io import RunOutput
    from ditherlab.simulate.io import truth_path

    flts = [n for n in names if n.endswith("_flt.fits")]
    return RunOutput(
        args.outdir,
        root,
        [*names, *(truth_path(n).name for n in flts)],
        # every name a simulate run of this rootname writes
        claims=re.escape(root) + r"(\d{2,}_(flt|truth)\.fits|_scene\.ecsv)",
        overwrite=args.overwrite,
        record={
            "command": "simulate",
            "aperture": aperture,
            "pattern": pattern.name,
            "n_exposures": len(pattern),
            "seed": args.seed,
        },
        name="--outdir",
    )


def _check_resources(args, nsrc: int, pattern, ap, subarray, max_memory) -> None:
    """Refuse a run that would not fit in memory (limit: --max-memory) or on the disk."""
    from ditherlab._io import check_disk_space
    from ditherlab._resources import check_memory
    from ditherlab.simulate.cost import simulation_cost

    cost = simulation_cost(max(nsrc, 0), pattern, ap, chips=args.chips, subarray=subarray)
    check_memory(
        cost.memory_streaming,
        max_memory,
        f"simulating {nsrc} sources on {cost.pixels} pixels per exposure",
        "use fewer sources (--nstars), a --subarray or fewer --chips",
        name="--max-memory",
        raise_with=f"--max-memory {np.ceil(cost.memory_streaming / 2**30):.0f} (GiB)",
    )
    check_disk_space(args.outdir, cost.disk, "--outdir")


def _random_field(args: argparse.Namespace):
    from ditherlab.simulate.scene import Scene

    return Scene.random_field(
        500 if args.nstars is None else args.nstars,
        n_galaxies=args.ngalaxies or 0,
        size=210.0 if args.field_size is None else args.field_size,
        ra=args.ra if args.ra is not None else 150.1,
        dec=args.dec if args.dec is not None else 2.2,
        sky=args.sky if args.sky is not None else 40.0,
        rng=args.seed,
    )


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ditherlab._io import check_stem
    from ditherlab.planner._cli import pattern_from_args
    from ditherlab.simulate.io import write_exposure
    from ditherlab.simulate.observe import Pointing, iter_observe, resolve_aperture
    from ditherlab.simulate.psf import ImagePSF

    _check_combinations(args)
    _check_numbers(args)
    max_memory = _max_memory(args)
    root = check_stem(args.rootname, "--rootname")
    pattern = pattern_from_args(args)
    ap = resolve_aperture(args.aperture)
    subarray = tuple(args.subarray) if args.subarray is not None else None
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise DitherlabValueError(f"--outdir {str(outdir)!r} is not a directory")
    if args.filter is not None:  # refused before anything is written, naming the flag
        from ditherlab.simulate.filters import check_filter

        check_filter(ap.instrument, ap.detector, args.filter, argname="--filter")
    if args.psf_jitter < 0 or (args.psf is not None and args.psf_jitter > 0):
        raise DitherlabValueError(
            f"--psf-jitter {args.psf_jitter!r} must be >= 0 and applies to the default PSF "
            "only (not with --psf)"
        )
    names = [f"{root}{k + 1:02d}_flt.fits" for k in range(len(pattern))]
    scene_name = f"{root}_scene.ecsv"
    run = _run_output(args, root, [*names, scene_name], ap.name, pattern)
    run.check()  # before any work: writable, nothing replaced unasked, no foreign files
    scene = None
    if args.scene is not None:
        scene = _read_scene(args.scene)
        if args.sky is not None:
            scene = scene.replace(sky=args.sky)
        nsrc = len(scene)
    else:
        nsrc = (500 if args.nstars is None else args.nstars) + (args.ngalaxies or 0)
    # refuse before the work (and before a random field is drawn) what cannot fit
    _check_resources(args, nsrc, pattern, ap, subarray, max_memory)
    psf = None
    if args.psf is not None:
        psf = ImagePSF.from_fits(args.psf, oversampling=args.psf_oversampling)
    if scene is None:
        scene = _random_field(args)
    pointing = Pointing(
        ra=args.ra,
        dec=args.dec,
        pa_v3=args.pa_v3,
        jitter=args.jitter,
        large_error_rate=args.large_error_rate,
    )
    quiet = args.quiet

    def progress(k: int, n: int) -> None:
        if not quiet:
            print(f"simulate: exposure {k}/{n} done", file=sys.stderr, flush=True)

    # one exposure in memory at a time: each is written as soon as it is simulated
    exposures = iter_observe(
        scene,
        pattern,
        ap,
        args.exptime,
        psf=psf,
        pointing=pointing,
        chips=args.chips,
        subarray=subarray,
        filter=args.filter,
        detector_kernel=not args.no_detector_kernel,
        psf_jitter=args.psf_jitter,
        rootname=root,
        cosmic_rays_on=not args.no_cosmic_rays,
        progress=progress,
        rng=args.seed,
        max_memory=max_memory,
    )
    # written into a staging folder inside outdir, moved into place together at the end
    with run as staging:
        # a plain loop: zip()/enumerate() would keep the previous exposure alive in their
        # cached result tuple while the next one is simulated (twice the memory)
        paths = iter(names)
        for exp in exposures:
            write_exposure(exp, staging / next(paths))
            del exp
        scene.write(staging / scene_name)
    for name in names:
        print(outdir / name, flush=True)
    if not quiet:
        print(
            f"simulate: wrote {len(names)} exposures (+ truth files), {scene_name} and "
            f"{run.manifest_name} to {outdir}",
            file=sys.stderr,
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command to ``sub``."""
    from ditherlab.planner._cli import add_pattern_arguments

    p = sub.add_parser(
        "simulate",
        help="simulate the exposures of a dither pattern (flt files + truth)",
        description="Simulate one HST-style *_flt.fits exposure (with a *_truth.fits beside "
        "it) per step of a dither pattern: scene through the PSF and the distortion, "
        "pointing errors, dark, hot pixels, cosmic rays, noise and saturation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  ditherlab simulate --pattern 4 --aperture acs-wfc --exptime 500 --outdir sim --seed 1\n"
        "  ditherlab simulate --pattern 2 --step 5 5 --aperture wfc3-uvis1 --exptime 300 \\\n"
        "      --scene stars.ecsv --subarray 0 0 512 512 --outdir sim --seed 2",
    )
    add_pattern_arguments(p)
    p.add_argument("--aperture", required=True, metavar="NAME", help="prime aperture")
    p.add_argument(
        "--exptime", required=True, type=float, metavar="S", help="exposure time per step (s)"
    )
    p.add_argument("--outdir", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same files)")
    p.add_argument("--scene", metavar="ECSV", help="scene table (x/y or ra/dec, flux or mag)")
    p.add_argument("--nstars", type=int, help="random stars if no --scene (default 500)")
    p.add_argument("--ngalaxies", type=int, help="random galaxies if no --scene (default 0)")
    p.add_argument(
        "--field-size",
        type=float,
        metavar="ARCSEC",
        help="random field size if no --scene (default 210)",
    )
    p.add_argument("--sky", type=float, metavar="E/S/ARCSEC2", help="sky surface brightness")
    p.add_argument("--ra", type=float, help="target RA (deg); default the scene centre")
    p.add_argument("--dec", type=float, help="target Dec (deg); default the scene centre")
    p.add_argument("--pa-v3", type=float, default=0.0, metavar="DEG", help="PA of V3 (deg)")
    p.add_argument("--jitter", type=float, default=0.0, metavar="MAS", help="pointing RMS (mas)")
    p.add_argument(
        "--large-error-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability per exposure of a 0.1-0.2 arcsec pointing error",
    )
    p.add_argument("--chips", type=int, nargs="+", metavar="CCDCHIP", help="chips to simulate")
    p.add_argument(
        "--subarray",
        type=int,
        nargs=4,
        metavar=("X0", "Y0", "NX", "NY"),
        help="simulate only this cut-out of each chip (0-based flt pixels)",
    )
    p.add_argument(
        "--psf",
        metavar="FITS",
        help="oversampled PSF image (TinyTim/WebbPSF); default the HST PSF of the "
        "detector and --filter (diffraction, scattering halo, --psf-jitter)",
    )
    p.add_argument(
        "--psf-oversampling",
        type=int,
        metavar="N",
        help="PSF pixels per detector pixel (default: the OVERSAMP keyword)",
    )
    p.add_argument(
        "--filter",
        default=None,
        help="filter of the prime detector (default F606W; F160W on WFC3/IR, F125LP on "
        "ACS/SBC): sets the PSF's wavelength and the headers",
    )
    p.add_argument(
        "--psf-jitter",
        type=float,
        default=0.0,
        metavar="MAS",
        help="extra pointing jitter, mas RMS per axis, added in quadrature to the default "
        "PSF's residual blur (which already stands for typical jitter and breathing)",
    )
    p.add_argument(
        "--no-detector-kernel",
        action="store_true",
        help="do not apply the detector's charge-diffusion/IPC kernel (for a --psf that "
        "already includes it)",
    )
    p.add_argument("--rootname", default="dlsim", help="file name stem (default dlsim)")
    p.add_argument("--no-cosmic-rays", action="store_true", help="switch cosmic rays off")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run of this --rootname in --outdir (its files that this "
        "run does not write again are removed, as listed in ROOTNAME_manifest.json)",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        metavar="GIB",
        help="refuse runs estimated to need more memory (default: half the machine's, at "
        "most 80%% of what is available)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_simulate)
