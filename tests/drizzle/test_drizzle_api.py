"""Drizzle interface: context, fill values, weights, units, sections, errors, operator."""

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, out_shape_for

import ditherlab.drizzle as dz
from ditherlab.drizzle import Drizzle, prepare
from ditherlab.errors import DitherlabError, DitherlabValueError, DitherlabWarning


def _identity(shape, dx=0.0, dy=0.0):
    y, x = np.indices(shape, dtype=float)
    return np.dstack([x + dx, y + dy])


def test_all_names_resolve():
    for name in dz.__all__:
        assert getattr(dz, name) is not None


def test_context_bits_and_planes():
    shape = (6, 7)
    d = Drizzle(out_shape=(12, 14), begin_ctx_id=30)
    for k in range(3):
        d.add_image(np.ones(shape), 1.0, _identity(shape, 3.0 * k, 2.0 * k))
    assert d.out_ctx.shape == (2, 12, 14)  # grew a plane for context id 32
    assert d.out_ctx[0, 0, 0] == 1 << 30
    assert int(np.uint32(d.out_ctx[0, 3, 4].view(np.uint32))) == (1 << 30) | (1 << 31)
    assert d.out_ctx[1, 6, 9] == 1
    assert d.ctx_id == 33
    # context set exactly where weight > 0
    np.testing.assert_array_equal(np.any(d.out_ctx != 0, axis=0), d.out_wht > 0)


def test_zero_weight_sets_no_context_bit():
    shape = (5, 5)
    w = np.ones(shape)
    w[2, 2] = 0.0
    d = Drizzle(out_shape=shape, kernel="point")
    d.add_image(np.ones(shape), 1.0, _identity(shape), weight_map=w)
    assert d.out_ctx[0, 2, 2] == 0
    assert d.out_wht[2, 2] == 0
    assert np.isnan(d.out_img[2, 2])


def test_disable_ctx_and_max_ctx_id():
    d = Drizzle(out_shape=(4, 4), disable_ctx=True)
    d.add_image(np.ones((4, 4)), 1.0, _identity((4, 4)))
    assert d.out_ctx is None
    assert Drizzle(out_shape=(4, 4), max_ctx_id=70).out_ctx.shape == (3, 4, 4)


@pytest.mark.parametrize(
    ("fillval", "expect"), [(None, np.nan), (0, 0.0), ("-1.5", -1.5), ("INDEF", np.nan)]
)
def test_fill_values(fillval, expect):
    d = Drizzle(out_shape=(6, 6), fillval=fillval)
    d.add_image(np.full((3, 3), 2.0), 1.0, _identity((3, 3)))
    np.testing.assert_array_equal(d.out_img[5, 5], np.float32(expect))
    np.testing.assert_allclose(d.out_img[:2, :2], 2.0, rtol=1e-7, atol=0)


def test_indef_fill_leaves_supplied_image_untouched():
    img = np.full((6, 6), 7.0, np.float32)
    d = Drizzle(out_shape=(6, 6), out_img=img, fillval="INDEF")
    d.add_image(np.full((3, 3), 2.0), 1.0, _identity((3, 3)))
    assert d.out_img[5, 5] == 7.0


def test_weight_scaling_changes_weight_not_image():
    shape = (8, 9)
    rng = np.random.default_rng(0)
    data = rng.normal(size=shape)
    pm = make_pixmap(shape, angle=20.0, shift=(0.3, 0.1))
    out = out_shape_for(pm)
    a = Drizzle(out_shape=out)
    a.add_image(data, 1.0, pm)
    b = Drizzle(out_shape=out)
    b.add_image(data, 1.0, pm, wht_scale=3.0)
    np.testing.assert_allclose(b.out_wht, 3.0 * a.out_wht, rtol=1e-6, atol=0)
    np.testing.assert_allclose(b.out_img, a.out_img, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_counts_are_divided_by_exptime():
    shape = (8, 9)
    data = np.random.default_rng(1).uniform(1, 5, shape)
    pm = make_pixmap(shape, angle=5.0, shift=(0.3, 0.1))
    out = out_shape_for(pm)
    a = Drizzle(out_shape=out)
    a.add_image(data, 4.0, pm, in_units="counts")
    b = Drizzle(out_shape=out)
    b.add_image(data / 4.0, 4.0, pm)
    np.testing.assert_allclose(a.out_img, b.out_img, rtol=1e-6, atol=0, equal_nan=True)
    assert a.total_exptime == 4.0


def test_nan_and_inf_data_get_zero_weight():
    shape = (8, 9)
    data = np.random.default_rng(2).uniform(1, 5, shape)
    bad = data.copy()
    bad[3, 4] = np.nan
    bad[5, 1] = np.inf
    w = np.ones(shape)
    w[3, 4] = w[5, 1] = 0.0
    pm = make_pixmap(shape, angle=30.0, shift=(0.3, 0.1))
    out = out_shape_for(pm)
    a = Drizzle(out_shape=out)
    a.add_image(bad, 1.0, pm)
    b = Drizzle(out_shape=out)
    b.add_image(data, 1.0, pm, weight_map=w)
    np.testing.assert_array_equal(a.out_img, b.out_img)
    np.testing.assert_array_equal(a.out_wht, b.out_wht)


@pytest.mark.parametrize("kernel", ["square", "point", "turbo"])
def test_nan_in_pixmap_skips_pixels(kernel):
    shape = (10, 10)
    pm = _identity(shape, 2.0, 2.0)
    pm[4, 5] = np.nan
    d = Drizzle(out_shape=(14, 14), kernel=kernel, fillval=0.0)
    nmiss, nskip = d.add_image(np.ones(shape), 1.0, pm)
    assert np.all(np.isfinite(d.out_img))
    assert nskip == 0
    assert nmiss >= 1
    if kernel == "point":
        assert nmiss == 1
        assert d.out_wht[6, 7] == 0


def test_all_nan_pixmap_warns_and_adds_nothing():
    d = Drizzle(out_shape=(5, 5))
    pm = np.full((4, 4, 2), np.nan)
    with pytest.warns(DitherlabWarning, match="too few finite"):
        nmiss, nskip = d.add_image(np.ones((4, 4)), 1.0, pm)
    assert (nmiss, nskip) == (16, 4)
    assert d.out_wht.sum() == 0


@pytest.mark.parametrize(
    ("kernel", "out_shape", "rows_skipped"), [("point", (10, 6), 1), ("square", (4, 12), 6)]
)
def test_miss_counter_counts_pixels_off_the_output(kernel, out_shape, rows_skipped):
    """C drizzle 3.0 returns nmiss off by one per row; ours counts the pixels.

    (The C bounding-polygon rule, reproduced here, also skips the first input row when the
    image is cut by the output's right edge: see docs/drizzle.md.)
    """
    shape = (10, 12)
    d = Drizzle(out_shape=out_shape, kernel=kernel)
    nmiss, nskip = d.add_image(np.ones(shape), 1.0, _identity(shape))
    assert nskip == rows_skipped
    assert nmiss == shape[0] * shape[1] - round(float(d.out_wht.sum()))


def test_inferred_out_shape_is_not_transposed():
    shape = (150, 200)
    d = Drizzle()
    d.add_image(np.ones(shape), 1.0, _identity(shape, 0.4, 0.3))
    assert d.out_img.shape == (151, 201)
    np.testing.assert_allclose(np.nansum(d.out_img * d.out_wht), 150 * 200, rtol=1e-6, atol=0)


def test_pixel_scale_ratio_is_estimated_the_right_way_round():
    shape = (12, 14)
    pm = make_pixmap(shape, angle=10.0, scale=0.5, shift=(0.2, 0.1))
    assert dz.estimate_pixel_scale_ratio(pm) == pytest.approx(0.5, rel=1e-9)
    out = out_shape_for(pm)
    a = Drizzle(kernel="turbo", out_shape=out)
    a.add_image(np.ones(shape), 1.0, pm, pixel_scale_ratio=None)
    b = Drizzle(kernel="turbo", out_shape=out)
    b.add_image(np.ones(shape), 1.0, pm, pixel_scale_ratio=0.5)
    np.testing.assert_allclose(a.out_wht, b.out_wht, rtol=1e-9, atol=0)


def test_input_section_limits():
    shape = (10, 12)
    d = Drizzle(out_shape=shape, kernel="point")
    d.add_image(np.ones(shape), 1.0, _identity(shape), xmin=2, xmax=5, ymin=3, ymax=7)
    assert d.out_wht.sum() == 4 * 5
    assert d.out_wht[3:8, 2:6].all()


def test_continue_from_previous_outputs():
    shape = (6, 6)
    first = Drizzle(out_shape=shape)
    first.add_image(np.full(shape, 2.0), 1.0, _identity(shape))
    second = Drizzle(
        out_shape=shape,
        out_img=first.out_img.copy(),
        out_wht=first.out_wht.copy(),
        out_ctx=first.out_ctx.copy(),
        exptime=1.0,
        begin_ctx_id=1,
    )
    second.add_image(np.full(shape, 4.0), 1.0, _identity(shape))
    np.testing.assert_allclose(second.out_img, 3.0, rtol=1e-6, atol=0)
    assert second.out_ctx[0, 0, 0] == 3
    assert second.total_exptime == 2.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.add_image(np.ones((4, 4)), 1.0, np.zeros((4, 5, 2))), "pixmap shape"),
        (
            lambda d: d.add_image(
                np.ones((4, 4)), 1.0, _identity((4, 4)), weight_map=np.ones((3, 4))
            ),
            "weight_map shape",
        ),
        (lambda d: d.add_image(np.ones((4, 4)), -1.0, _identity((4, 4))), "exptime=-1.0"),
        (
            lambda d: d.add_image(np.ones((4, 4)), 1.0, _identity((4, 4)), pixfrac=-0.5),
            "pixfrac=-0.5",
        ),
        (
            lambda d: d.add_image(np.ones((4, 4)), 1.0, _identity((4, 4)), pixfrac=0.0),
            "pixfrac=0.0",
        ),
        (
            lambda d: d.add_image(np.ones((4, 4)), 1.0, _identity((4, 4)), in_units="adu"),
            "in_units='adu'",
        ),
        (
            lambda d: d.add_image(
                np.ones((4, 4)), 1.0, _identity((4, 4)), weight_map=-np.ones((4, 4))
            ),
            "weight_map must be finite and >= 0",
        ),
        (lambda d: d.add_image(np.ones(4), 1.0, _identity((4, 4))), "2-D"),
        (
            lambda d: d.add_image(np.ones((4, 4)), 1.0, _identity((4, 4)), xmin=3, xmax=1),
            "empty input section",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    d = Drizzle(out_shape=(6, 6))
    with pytest.raises(DitherlabValueError, match=match):
        call(d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": "lanczos5"}, "kernel='lanczos5'"),
        ({"out_shape": (4, 4), "out_img": np.zeros((5, 5))}, "shapes disagree"),
        ({"exptime": 3.0}, "exptime=3.0"),
        ({"begin_ctx_id": -1}, "begin_ctx_id=-1"),
        ({"begin_ctx_id": 4, "max_ctx_id": 2}, "max_ctx_id=2"),
        ({"fillval": "abc"}, "fillval='abc'"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(DitherlabError, match=match):
        Drizzle(**kwargs)


def test_errors_are_valueerrors_for_callers_that_do_not_know_ditherlab():
    with pytest.raises(ValueError, match="kernel"):
        Drizzle(kernel="boxcar")


@pytest.mark.parametrize("kernel", ["square", "turbo", "point", "gaussian", "lanczos3", "tophat"])
def test_prepared_operator_equals_add_image(kernel):
    rng = np.random.default_rng(5)
    shape = (14, 17)
    pm = make_pixmap(shape, angle=20.0, scale=0.8, shift=(0.3, 0.2), margin=6.0)
    out = out_shape_for(pm, margin=6)
    data = rng.normal(3, 1, shape)
    data[2, 3] = np.nan
    w = rng.uniform(size=shape)
    pf = 1.0 if kernel == "lanczos3" else 0.7  # (lanczos ignores pixfrac, warns if not 1)
    a = Drizzle(kernel=kernel, out_shape=out)
    ra = a.add_image(
        data, 2.0, pm, weight_map=w, pixfrac=pf, pixel_scale_ratio=0.8, in_units="counts"
    )
    op = prepare(pm, out, kernel=kernel, pixfrac=pf, pixel_scale_ratio=0.8)
    b = Drizzle(kernel=kernel, out_shape=out)
    rb = b.add_prepared(op, data, 2.0, weight_map=w, in_units="counts")
    assert ra == rb
    np.testing.assert_allclose(b.out_img, a.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(b.out_wht, a.out_wht, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(b.out_ctx, a.out_ctx)


def test_prepared_operator_errors():
    op = prepare(_identity((5, 5)), (6, 6))
    d = Drizzle(out_shape=(7, 7))
    with pytest.raises(DitherlabValueError, match="operator out_shape"):
        d.add_prepared(op, np.ones((5, 5)), 1.0)
    with pytest.raises(DitherlabValueError, match="input shape"):
        Drizzle(out_shape=(6, 6)).add_prepared(op, np.ones((4, 5)), 1.0)
    with pytest.raises(DitherlabValueError, match="kernel='cubic'"):
        prepare(_identity((5, 5)), (6, 6), kernel="cubic")


def test_prepared_operator_with_narrow_section_and_partial_overlap():
    rng = np.random.default_rng(8)
    shape = (30, 40)
    pm = make_pixmap(shape, angle=25.0, shift=(0.2, 0.4), origin=(10.0, 12.0))
    out = (30, 32)
    data = rng.normal(size=shape)
    kw = {"xmin": 5, "xmax": 30, "ymin": 2, "ymax": 25, "pixfrac": 0.9}
    a = Drizzle(out_shape=out)
    ra = a.add_image(data, 1.0, pm, **kw)
    b = Drizzle(out_shape=out)
    rb = b.add_prepared(prepare(pm, out, **kw), data, 1.0)
    assert ra == rb
    np.testing.assert_allclose(b.out_img, a.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(b.out_ctx, a.out_ctx)


@pytest.mark.parametrize("kernel", ["turbo", "point"])
@pytest.mark.parametrize("scale", [0.5, 0.8, 1.0])
@pytest.mark.parametrize("pixfrac", [0.7, 1.0])
def test_fast_paths_equal_the_general_path(kernel, scale, pixfrac):
    """Clean blocks (finite data, everything inside) take the point/turbo fast paths; the
    prepared operator is built with the general kernel code.  Two images with weight maps
    holding zeros exercise the merge into existing weight and the zero-weight rule."""
    rng = np.random.default_rng(11)
    shape = (40, 37)
    pm = make_pixmap(shape, angle=7.0, scale=scale, shift=(0.31, 0.17), quad=0.6, margin=6.0)
    out = out_shape_for(pm, margin=6)
    a = Drizzle(kernel=kernel, out_shape=out, max_ctx_id=1)
    b = Drizzle(kernel=kernel, out_shape=out, max_ctx_id=1)
    op = prepare(pm, out, kernel=kernel, pixfrac=pixfrac, pixel_scale_ratio=scale)
    for k in range(2):
        data = rng.normal(3, 1, shape).astype(np.float32)
        w = rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
        w[rng.uniform(size=shape) < 0.1] = 0.0
        ra = a.add_image(data, 1.0, pm, weight_map=w, pixfrac=pixfrac, pixel_scale_ratio=scale)
        rb = b.add_prepared(op, data, 1.0, weight_map=w)
        assert ra == rb, k
    np.testing.assert_allclose(a.out_img, b.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(a.out_wht, b.out_wht, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(a.out_ctx, b.out_ctx)


def test_wht_scale_that_is_zero_in_float32_is_refused():
    """C refuses a zero weight scale; 1e-46 is zero once the weights are formed in float32."""
    y, x = np.indices((10, 10), dtype=float)
    pm = np.dstack([x + 1, y + 1])
    d = Drizzle(out_shape=(12, 12))
    with pytest.raises(DitherlabValueError, match=r"wht_scale=1e-46 is 0 in float32"):
        d.add_image(np.ones((10, 10)), 1.0, pm, wht_scale=1e-46)
    with pytest.raises(DitherlabValueError, match=r"wht_scale=1e-46"):
        d.add_prepared(prepare(pm, (12, 12)), np.ones((10, 10)), 1.0, wht_scale=1e-46)
    d.add_image(np.ones((10, 10)), 1.0, pm, wht_scale=1e-44)  # a float32 subnormal: fine
    assert d.out_wht.max() > 0
