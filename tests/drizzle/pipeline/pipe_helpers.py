"""Shared helpers of the pipeline tests: small simulated ACS/WFC stacks with a realistic PSF."""

import numpy as np


def blurred_psf(instrument="ACS", detector="WFC", sigma_px=0.6, over=4, radius=0.6):
    """The default (Airy) PSF convolved with a ``sigma_px`` Gaussian, as an ImagePSF.

    Until issue 10 gives the simulator a realistic default PSF (charge diffusion), the
    pure Airy disc puts ~46 % of a centred star in one pixel and AstroDrizzle itself flags
    21 % of star cores on it; blurred by 0.6 px the peak pixel holds ~19 % and neither
    pipeline flags cores (reference detector_and_astrodrizzle.md §7).
    """
    from scipy.ndimage import gaussian_filter

    from ditherlab.simulate import AiryPSF, ImagePSF, detector_model

    m = detector_model(instrument, detector)
    step = m.idcscale / over
    n = round(2 * radius / step) | 1
    c = (np.arange(n) - n // 2) * step
    xx, yy = np.meshgrid(c, c)
    img = gaussian_filter(AiryPSF(m.psf_wavelength).profile(xx, yy), sigma_px * over)
    return ImagePSF(img / img.sum(), over, step)


def stack(seed=3, size=256, aperture="acs-wfc1", chips=(1,), nstars=900, exptime=500.0,
          pattern=None, **kw):  # fmt: skip
    """A 4-exposure sub-pixel stack (accurate pointing) with cosmic rays and defects.

    900 stars in 60″ is the star density of the reference's AstroDrizzle measurement
    (20,000 stars in 290″, detector_and_astrodrizzle.md §7), plus 10 % more bright ones
    (mag 17-20) for the star-core test; sky 50 e⁻/s/arcsec² (62.5 e⁻ per pixel in 500 s).
    """
    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe

    inst, det = {"acs": ("ACS", "WFC"), "wfc3": ("WFC3", "UVIS")}[aperture.split("-")[0]]
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
        psf=blurred_psf(inst, det), subarray=(x0, y0, size, size), rng=seed, **kw,
    )  # fmt: skip


def truth_scores(exposures, products, bits=336):
    """Recall of >5σ cosmic-ray pixels and the fraction of star-core pixels flagged.

    σ is the local noise without the cosmic ray: sqrt(source + sky + dark·t + RN²) from
    the truth.  Star cores: source above 100σ, not saturated (bleeding charge is not the
    star's and differs between exposures).  Pixels flagged in DQ (outside ``bits``)
    are left out, as the pipeline never uses them.
    """
    n5 = f5 = ncore = fcore = nclean = fclean = 0
    for e, masks in zip(exposures, products.cr_masks, strict=True):
        for c, tr, m in zip(e.chips, e.truth.chips, masks, strict=True):
            nl = tr.noiseless.astype(float)
            sig = np.sqrt(nl + tr.dark * e.exptime + e.read_noise**2)
            good = (c.dq.astype(np.int64) & ~bits) == 0
            cr5 = (tr.cr_charge > 5 * sig) & good
            unsaturated = (c.dq & (256 | 2048)) == 0  # bleeding charge differs per exposure
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
