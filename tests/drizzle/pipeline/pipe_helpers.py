"""Shared helpers of the pipeline tests: small simulated ACS/WFC stacks (default HST PSF)."""

import numpy as np


def stack(seed=3, size=256, aperture="acs-wfc1", chips=(1,), nstars=900, exptime=500.0,
          pattern=None, **kw):  # fmt: skip
    """A 4-exposure sub-pixel stack (accurate pointing) with cosmic rays and defects.

    900 stars in 60″ is the star density of the reference's AstroDrizzle measurement
    (20,000 stars in 290″, detector_and_astrodrizzle.md §7), plus 10 % more bright ones
    (mag 17-20) for the star-core test; sky 50 e⁻/s/arcsec² (62.5 e⁻ per pixel in 500 s).
    """
    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe

    field = Scene.random_field(nstars, size=60.0, sky=50.0, rng=seed)
    # plus bright stars (mag 17-20), so that star cores above 100σ are plentiful
    bright = Scene.random_field(nstars // 10, size=60.0, mag_range=(17.0, 20.0), rng=seed + 1)
    scene = Scene(
        ra=field.ra, dec=field.dec, x=np.r_[field.x, bright.x], y=np.r_[field.y, bright.y],
        flux=np.r_[field.flux, bright.flux], sky=field.sky,
    )  # fmt: skip
    ref = {"acs-wfc1": (1900, 900), "acs-wfc": (1900, 900), "wfc3-uvis1": (1950, 950)}
    x0, y0 = ref.get(aperture, (1900, 900))
    return observe(
        scene, pattern or subpixel(4), aperture, exptime, chips=list(chips),
        subarray=(x0, y0, size, size), rng=seed, **kw,
    )  # fmt: skip


def on_grid(pixmap, shape):
    """Chip pixels whose centre lands on an output grid of ``shape`` (ny, nx)."""
    x, y = pixmap[..., 0], pixmap[..., 1]
    return (x >= -0.5) & (x < shape[1] - 0.5) & (y >= -0.5) & (y < shape[0] - 0.5)


def truth_scores(exposures, products, bits=336):
    """Recall of >5σ cosmic-ray pixels and the fraction of star-core pixels flagged.

    The project's one definition, :func:`ditherlab.score.crmask.score_exposures`, over the
    pixels the pipeline uses (DQ within ``bits``) whose centre lands on the final grid
    (AstroDrizzle's grid leaves up to a pixel of a chip's far edge outside it): σ of a CR
    pixel is the local noise without it; star cores are source above 100σ of the
    background, away from saturated stars.
    """
    from ditherlab.score.crmask import score_exposures

    g = products.geometry
    good = [
        [((c.dq.astype(np.int64) & ~bits) == 0) & on_grid(g.final_pixmaps[i][j], g.final_shape)
         for j, c in enumerate(e.chips)]
        for i, e in enumerate(exposures)
    ]  # fmt: skip
    s = score_exposures(products.cr_masks, exposures, regions=good)
    return {
        "recall5": s.recall_significant,
        "n_cr5": s.n_significant,
        "core_flagged": s.core_flags / max(s.n_core, 1),
        "n_core": s.n_core,
        "core_flags": s.core_flags,
        "false_clean": s.false_flag_fraction,
    }


def blot_case(seed):
    """A 37 × 52 noisy image with one bright pixel, and the pixmap of a 45 × 60 output grid
    rotated by up to 5° and shifted partly off it (float64), for blot comparisons."""
    rng = np.random.default_rng(seed)
    data = rng.normal(1.0, 0.3, (37, 52)).astype(np.float32)
    data[10, 20] += 50.0
    y, x = np.indices((45, 60), dtype=float)
    a = np.deg2rad(rng.uniform(-5, 5))
    px = np.cos(a) * x - np.sin(a) * y + rng.uniform(-6, 2)
    py = np.sin(a) * x + np.cos(a) * y + rng.uniform(-6, 2)
    return data, np.dstack([px, py])
