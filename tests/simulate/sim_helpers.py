"""Shared helpers of the simulator tests (imported by the test modules of this folder)."""

import numpy as np

from ditherlab.simulate import Scene


def camera(name="acs-wfc"):
    """The real built-in aperture."""
    from ditherlab.planner import get_aperture

    return get_aperture(name)


def one_star(ap, x, y, flux, chip=None, sky=0.0):
    """A scene with one star at 0-based flt pixel (x, y) of ``ap``'s chip ``chip``, pointing
    at ``ap``'s reference with PA_V3 = 0 (returned with the sky position of the star)."""
    from ditherlab.simulate._geometry import ChipMap, attitude

    c = ap if chip is None else next(a for a in ap.chips if a.chip == chip)
    ra0, dec0 = 150.0, 2.0
    att = attitude(*(float(v) for v in ap.idl_to_tel(0.0, 0.0)), ra0, dec0, 0.0)
    m = ChipMap.from_attitude(c, att)
    ra, dec = m.pixel_to_sky(np.array([x]), np.array([y]))
    from ditherlab.simulate._geometry import gnomonic

    xi, eta = gnomonic(ra, dec, ra0, dec0)
    return Scene(ra=ra0, dec=dec0, x=xi, y=eta, flux=[flux], sky=sky), m


def run_astrodrizzle(exps, base, monkeypatch, **pars):
    """Write ``exps`` as flt files under ``base/sim``, copy them into ``base/work`` (which
    AstroDrizzle edits in place) and run drizzlepac's AstroDrizzle there on the shared
    settings (exact headers, no intermediate files), updated by ``pars``.  Returns the
    work folder, which holds the ``final_*`` products."""
    import shutil
    import warnings

    from drizzlepac import astrodrizzle

    from ditherlab.simulate import write_exposure

    sim, work = base / "sim", base / "work"
    sim.mkdir()
    work.mkdir()
    inputs = []
    for e in exps:
        p = write_exposure(e, sim / f"{e.rootname}_flt.fits")
        shutil.copy(p, work / p.name)
        inputs.append(p.name)
    monkeypatch.chdir(work)
    settings = {
        "output": "final",
        "updatewcs": False,
        "build": False,
        "clean": True,
        "num_cores": 1,
        "in_memory": True,
        "runfile": "",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party deprecation/verify warnings
        astrodrizzle.AstroDrizzle(inputs, **{**settings, **pars})
    return work
