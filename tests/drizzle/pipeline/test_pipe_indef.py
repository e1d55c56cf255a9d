"""final_fillval=INDEF as AstroDrizzle does it: an output pixel of zero weight keeps the
value of the last zero-weight input pixel whose drop overlapped it; one that no drop
overlapped stays NaN (drizzlepac's initial value)."""

import dataclasses

import numpy as np
import pytest

from ditherlab.drizzle import Drizzle
from ditherlab.drizzle.pipeline.fill import indef_values


def _ours(images, out_shape, kernel="square", pixfrac=1.0, fillval=None):
    """Drizzle ``[(data, weight, pixmap), ...]`` (cps, ratio 1) with the core, then put
    back what INDEF leaves in the pixels of zero weight."""
    d = Drizzle(kernel=kernel, out_shape=out_shape, fillval=fillval, max_ctx_id=len(images))
    for data, w, pm in images:
        d.add_image(data, 1.0, pm, weight_map=w, pixfrac=pixfrac, in_units="cps")
    sci, wht = d.out_img.copy(), d.out_wht
    if fillval is None:
        idx, vals = indef_values(wht, [(x, w, pm, 1.0, 1.0, 1.0) for x, w, pm in images],
                                 kernel, pixfrac)  # fmt: skip
        sci.reshape(-1)[idx] = vals
    return sci, wht


def _shift_pixmap(shape, dx, dy):
    y, x = np.indices(shape, dtype=float)
    return np.dstack([x + dx, y + dy])


def test_indef_reproduces_drizzlepac_on_a_shifted_pair():
    """drizzlepac 3.11 ``adrizzle.do_driz`` (square, pixfrac 1, a shift of (2, 1) pixels,
    values 1..48 then twice that, zero weights at (2, 3), (4, 1), (4, 2) in the first image
    and (4, 2), (0, 0) in the second) gave: 40 at (3, 5) (the second image's value: it has
    weight there), 70 at (5, 4) (zero weight twice: the last value, 2 × 35), 68 at (5, 3),
    NaN outside the drops; weights 1 at (3, 5), 0 at (5, 4)."""
    data = np.arange(48, dtype=np.float32).reshape(6, 8) + 1
    w1 = np.ones((6, 8), np.float32)
    w1[2, 3] = w1[4, 1] = w1[4, 2] = 0
    w2 = np.ones((6, 8), np.float32)
    w2[4, 2] = w2[0, 0] = 0
    pm = _shift_pixmap((6, 8), 2.0, 1.0)
    sci, wht = _ours([(data, w1, pm), (2 * data, w2, pm)], (8, 12))
    assert sci[3, 5] == 40.0
    assert wht[3, 5] == 1.0
    assert sci[5, 4] == 70.0
    assert wht[5, 4] == 0.0
    assert sci[5, 3] == 68.0
    assert sci[1, 2] == 1.0  # (0, 0): weight 0 in image 2, 1 in image 1
    assert np.isnan(sci[0]).all()
    assert np.isnan(sci[:, :2]).all()
    assert np.isnan(sci[:, 10:]).all()
    numeric, _ = _ours([(data, w1, pm), (2 * data, w2, pm)], (8, 12), fillval=-5.0)
    assert numeric[5, 4] == -5.0
    assert numeric[3, 5] == 40.0


def test_indef_without_zero_weights_is_the_core_nan_fill():
    data = np.ones((5, 5), np.float32)
    pm = _shift_pixmap((5, 5), 1.5, 0.5)
    sci, wht = _ours([(data, np.ones_like(data), pm)], (8, 8))
    np.testing.assert_array_equal(np.isnan(sci), wht == 0)


def test_pipeline_indef_fills_masked_holes_and_leaves_the_outside_nan():
    """run_pipeline: a pixel masked in every exposure (a bad patch in all) keeps an input
    value under INDEF, NaN outside all chips, the fill value with a number."""
    from pipe_helpers import stack

    from ditherlab.drizzle import run_pipeline

    exps = stack(seed=11, size=96, nstars=300)
    bad = []
    for e in exps:
        dq = e.chips[0].dq.copy()
        dq[30:60, 30:60] |= 4  # a bad patch in every exposure, flagged as unusable
        bad.append(e.replace(chips=(dataclasses.replace(e.chips[0], dq=dq),)))
    kw = {"driz_sep_bits": 336, "final_bits": 336, "driz_cr": False}
    p = run_pipeline(bad, **kw)
    q = run_pipeline(bad, final_fillval=0.0, **kw)
    empty = p.wht == 0
    holes = empty & ~np.isnan(p.sci)
    assert holes.sum() > 10  # inside the field: input values, as AstroDrizzle
    assert np.isnan(p.sci[empty & ~holes]).all()
    assert np.all(np.abs(p.sci[holes]) < 1e4)
    assert np.all(q.sci[empty] == 0.0)
    np.testing.assert_array_equal(p.sci[~empty], q.sci[~empty])


@pytest.mark.parametrize(
    ("kernel", "pixfrac"), [("square", 1.0), ("square", 0.7), ("point", 1.0), ("turbo", 0.8)]
)
def test_indef_agrees_with_drizzlepac(kernel, pixfrac):
    """The same inputs through drizzlepac's ``adrizzle.do_driz`` (a rotated, scaled map given
    as its mapping callback; masked blocks, columns and edge pixels; square, point and
    turbo): the same weights, the same NaN pixels and the same values (float32 rounding)."""
    pytest.importorskip("drizzlepac")
    from astropy.io import fits
    from drizzlepac import adrizzle
    from stwcs.wcsutil import HSTWCS

    rng = np.random.default_rng(4)
    shape, out_shape = (30, 40), (48, 56)
    a = np.deg2rad(7.0)
    mat = 1.1 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    off = np.array([6.3, 4.7])

    def g(x, y):  # 0-based input -> 0-based output
        return mat[0, 0] * x + mat[0, 1] * y + off[0], mat[1, 0] * x + mat[1, 1] * y + off[1]

    class Mapping:  # drizzlepac calls it with 1-based pixel coordinates
        def __init__(self, *_):
            pass

        def forward(self, x, y):
            ox, oy = g(np.asarray(x) - 1.0, np.asarray(y) - 1.0)
            return ox + 1.0, oy + 1.0

    def hst(shape_):
        h = fits.Header()
        h.update(NAXIS=2, NAXIS1=shape_[1], NAXIS2=shape_[0], CTYPE1="RA---TAN",
                 CTYPE2="DEC--TAN", CRPIX1=1.0, CRPIX2=1.0, CRVAL1=150.0, CRVAL2=2.0,
                 CD1_1=-1.4e-5, CD1_2=0.0, CD2_1=0.0, CD2_2=1.4e-5)  # fmt: skip
        return HSTWCS(fits.HDUList([fits.PrimaryHDU(np.zeros(shape_, np.float32), header=h)]))

    y, x = np.indices(shape, dtype=float)
    pm = np.dstack(g(x, y))
    images = []
    for k in range(3):
        data = rng.normal(10.0 * (k + 1), 2.0, shape).astype(np.float32)
        w = np.ones(shape, np.float32)
        w[10:14, 12:17] = 0  # a block masked in every image: a hole in the output
        w[:, 25 + k] = 0
        w[0, :5] = w[-1, -4:] = 0  # edge pixels
        w[rng.random(shape) < 0.05] = 0
        images.append((data, w, pm))
    sci, wht = _ours(images, out_shape, kernel, pixfrac)

    win, wout = hst(shape), hst(out_shape)
    osci = np.full(out_shape, np.nan, np.float32)
    owht = np.zeros(out_shape, np.float32)
    octx = np.zeros((1, *out_shape), np.int32)
    for k, (data, w, _) in enumerate(images):
        adrizzle.do_driz(data, win, w, wout, osci, owht, octx, 1.0, "cps", 1.0,
                         wcslin_pscale=win.pscale, uniqid=k + 1, pixfrac=pixfrac,
                         kernel=kernel, fillval="INDEF", wcsmap=Mapping)  # fmt: skip
    np.testing.assert_allclose(wht, owht, rtol=1e-5, atol=1e-6)
    hole = (owht == 0) & np.isfinite(osci)
    assert hole.sum() > 5
    np.testing.assert_array_equal(np.isnan(sci), np.isnan(osci))
    np.testing.assert_allclose(sci, osci, rtol=1e-5, atol=1e-4)
