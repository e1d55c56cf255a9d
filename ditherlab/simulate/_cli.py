"""The ``ditherlab simulate`` sub-command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ditherlab.errors import DitherlabValueError, OutputExistsError

__all__ = ["register"]


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ditherlab.planner._cli import pattern_from_args
    from ditherlab.simulate.io import truth_path, write_exposure
    from ditherlab.simulate.observe import Pointing, iter_observe, resolve_aperture
    from ditherlab.simulate.psf import ImagePSF
    from ditherlab.simulate.scene import Scene

    pattern = pattern_from_args(args)
    ap = resolve_aperture(args.aperture)
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
    psf = None
    if args.psf is not None:
        psf = ImagePSF.from_fits(args.psf, oversampling=args.psf_oversampling)
    if args.scene is not None:
        scene = Scene.read(args.scene)
        if args.sky is not None:
            scene = scene.replace(sky=args.sky)
    else:
        scene = Scene.random_field(
            args.nstars,
            n_galaxies=args.ngalaxies,
            size=args.field_size,
            ra=args.ra if args.ra is not None else 150.1,
            dec=args.dec if args.dec is not None else 2.2,
            sky=args.sky if args.sky is not None else 40.0,
            rng=args.seed,
        )
    names = [outdir / f"{args.rootname}{k + 1:02d}_flt.fits" for k in range(len(pattern))]
    scene_path = outdir / f"{args.rootname}_scene.ecsv"
    if not args.overwrite:
        for p in [*names, *(truth_path(p) for p in names), scene_path]:
            if p.exists():
                raise OutputExistsError(f"{str(p)!r} exists; pass --overwrite to replace it")
    pointing = Pointing(
        ra=args.ra,
        dec=args.dec,
        pa_v3=args.pa_v3,
        jitter=args.jitter,
        large_error_rate=args.large_error_rate,
    )
    subarray = tuple(args.subarray) if args.subarray is not None else None
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
        rootname=args.rootname,
        cosmic_rays_on=not args.no_cosmic_rays,
        progress=progress,
        rng=args.seed,
    )
    outdir.mkdir(parents=True, exist_ok=True)
    for exp, path in zip(exposures, names, strict=True):
        write_exposure(exp, path, overwrite=args.overwrite)
        del exp
        print(path, flush=True)
    scene.write(scene_path, overwrite=args.overwrite)
    if not quiet:
        print(
            f"simulate: wrote {len(names)} exposures (+ truth files) and {scene_path.name} "
            f"to {outdir}",
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
    p.add_argument("--nstars", type=int, default=500, help="random stars if no --scene")
    p.add_argument("--ngalaxies", type=int, default=0, help="random galaxies if no --scene")
    p.add_argument(
        "--field-size", type=float, default=210.0, metavar="ARCSEC", help="random field size"
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
        help="pointing jitter within an exposure, mas RMS per axis, blurred into the "
        "default PSF (HST: a few mas)",
    )
    p.add_argument(
        "--no-detector-kernel",
        action="store_true",
        help="do not apply the detector's charge-diffusion/IPC kernel (for a --psf that "
        "already includes it)",
    )
    p.add_argument("--rootname", default="dlsim", help="file name stem (default dlsim)")
    p.add_argument("--no-cosmic-rays", action="store_true", help="switch cosmic rays off")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_simulate)
