"""Regressions found by review: inferred out_shape, non-finite pixmaps, state on failure."""

import numpy as np
import pytest

from ditherlab.drizzle import Drizzle, IdealGrid, prepare
from ditherlab.errors import DitherlabValueError


def _identity(ny, nx, dx=0.0, dy=0.0):
    y, x = np.mgrid[:ny, :nx].astype(float)
    return np.dstack([x + dx, y + dy])


def test_inferred_out_shape_keeps_every_image_in_one_frame():
    pm = _identity(20, 30, 10.2, 5.3)
    data = np.zeros((20, 30))
    data[5, 5] = 1.0
    d = Drizzle(kernel="point")
    d.add_image(data, 1.0, pm)
    first = np.argwhere(np.nan_to_num(d.out_img) > 0).tolist()
    d.add_image(data, 1.0, pm)
    second = np.argwhere(np.nan_to_num(d.out_img) > 0).tolist()
    assert first == second == [[10, 15]]  # x = 5 + 10.2, y = 5 + 5.3, rounded
    assert d.out_img.shape == (26, 41)  # ceil(max) + 1: room for the whole drop


@pytest.mark.parametrize("kernel", ["square", "turbo", "point"])
def test_infinite_pixmap_entries_are_skipped_like_nan(kernel):
    data = np.ones((12, 12))
    pm_inf = _identity(12, 12, 3.0, 3.0)
    pm_nan = pm_inf.copy()
    pm_inf[3, 4, 0] = np.inf
    pm_nan[3, 4] = np.nan
    a, b = Drizzle(kernel=kernel, out_shape=(20, 20)), Drizzle(kernel=kernel, out_shape=(20, 20))
    a.add_image(data, 1.0, pm_inf)
    b.add_image(data, 1.0, pm_nan)
    np.testing.assert_array_equal(a.out_wht, b.out_wht)
    op = prepare(pm_inf, (20, 20), kernel=kernel)
    c = Drizzle(kernel=kernel, out_shape=(20, 20))
    c.add_prepared(op, data, 1.0)
    np.testing.assert_allclose(c.out_wht, b.out_wht, rtol=1e-6, atol=0)


def test_failed_add_leaves_the_accumulator_unchanged(monkeypatch):
    d = Drizzle(out_shape=(20, 20))
    data = np.ones((10, 10))
    d.add_image(data, 2.0, _identity(10, 10, 2, 2))
    before = (d._ctx_id, d._texptime, d.out_wht.copy())

    def boom(*args, **kwargs):
        raise RuntimeError("kernel failure")

    monkeypatch.setattr(d, "_drizzle", boom)
    with pytest.raises(RuntimeError):
        d.add_image(data, 3.0, _identity(10, 10, 2, 2))
    assert (d._ctx_id, d._texptime) == before[:2]
    np.testing.assert_array_equal(d.out_wht, before[2])


def test_bad_shapes_name_the_argument():
    with pytest.raises(DitherlabValueError, match="out_img must be 2-D"):
        Drizzle(out_img=np.zeros(5))
    with pytest.raises(DitherlabValueError, match="shape="):
        IdealGrid("JWFC", 0.05, (3,), (0, 0))
    d = Drizzle()
    with pytest.raises(DitherlabValueError, match="too large"):
        d.add_image(np.ones((4, 4)), 1.0, _identity(4, 4, 1e6, 1e6))
