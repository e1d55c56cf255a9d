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


def truth_scores(exposures, products, bits=336):
    """Recall of >5σ cosmic-ray pixels and the fraction of star-core pixels flagged.

    σ is the local noise without the cosmic ray: sqrt(source + sky + dark·t + RN²) from
    the truth.  Star cores: source above 100σ, not within 3 pixels of a saturated pixel
    (bleeding charge is not the star's and differs between exposures).  Pixels flagged in
    DQ (outside ``bits``) are left out, as the pipeline never uses them.
    """
    from scipy.ndimage import binary_dilation

    n5 = f5 = ncore = fcore = nclean = fclean = 0
    for e, masks in zip(exposures, products.cr_masks, strict=True):
        for c, tr, m in zip(e.chips, e.truth.chips, masks, strict=True):
            nl = tr.noiseless.astype(float)
            sig = np.sqrt(nl + tr.dark * e.exptime + e.read_noise**2)
            good = (c.dq.astype(np.int64) & ~bits) == 0
            cr5 = (tr.cr_charge > 5 * sig) & good
            # saturated stars are not "unsaturated star cores": their bleeding charge differs
            # per exposure, and with bits 336 the saturated pixels (256) count as good
            sat = (c.dq & (256 | 2048)) != 0
            unsaturated = ~binary_dilation(sat, iterations=3)
            core = ((nl - e.sky) > 100 * sig) & (tr.cr_charge == 0) & good & unsaturated
            clean = (tr.cr_charge == 0) & (tr.defects == 0) & good
            n5 += cr5.sum()
            f5 += (m & cr5).sum()
            ncore += core.sum()
            fcore += (m & core).sum()
            nclean += clean.sum()
            fclean += (m & clean).sum()
    return {
        "recall5": f5 / n5,
        "n_cr5": int(n5),
        "core_flagged": fcore / max(ncore, 1),
        "n_core": int(ncore),
        "false_clean": fclean / nclean,
    }
