"""pixmap_from_wcs with bounding boxes (gwcs): shape from the box, boxes switched off."""

import numpy as np
import pytest

from ditherlab.drizzle import Drizzle, pixmap_from_wcs
from ditherlab.errors import DitherlabValueError

gwcs = pytest.importorskip("gwcs")


def _wcs(shift, bbox=((-0.5, 9.5), (-0.5, 9.5))):
    """A gwcs: a TAN projection of 1"/px, its pixel origin shifted by ``shift`` pixels."""
    from astropy import coordinates as coord
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf

    tr = (
        models.Shift(shift[0]) & models.Shift(shift[1])
        | models.Scale(1 / 3600) & models.Scale(1 / 3600)
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(10, 20, 180)
    )
    w = gwcs.WCS(
        forward_transform=tr,
        input_frame=cf.Frame2D(name="detector"),
        output_frame=cf.CelestialFrame(reference_frame=coord.ICRS(), name="world"),
    )
    w.bounding_box = bbox
    return w


def test_pixels_landing_just_outside_the_output_box_are_kept():
    """10 x 10 input, output shifted by (0.6, 0.7) px: 19 pixel centres map outside the
    output's box, but their drops still overlap the output."""
    win, wout = _wcs((0, 0)), _wcs((0.6, 0.7))
    kept = pixmap_from_wcs(win, wout)
    boxed = pixmap_from_wcs(win, wout, disable_bbox="none")
    y, x = np.indices((10, 10), dtype=float)
    np.testing.assert_allclose(kept, np.dstack([x - 0.6, y - 0.7]), atol=1e-6)
    assert np.isfinite(kept).all()
    assert (~np.isfinite(boxed).all(axis=2)).sum() == 19
    full = Drizzle(out_shape=(10, 10))
    full.add_image(np.ones((10, 10)), 1.0, kept)
    lost = Drizzle(out_shape=(10, 10))
    lost.add_image(np.ones((10, 10)), 1.0, boxed)
    # as the C drizzle with its own calc_pixmap (whose default also ignores the output box)
    cdriz = pytest.importorskip("drizzle.resample")
    from drizzle.utils import calc_pixmap

    ref = cdriz.Drizzle(out_shape=(10, 10))
    ref.add_image(np.ones((10, 10)), 1.0, calc_pixmap(win, wout))
    np.testing.assert_allclose(full.out_wht, ref.out_wht, rtol=1e-6, atol=1e-6)
    assert lost.out_wht.sum() < full.out_wht.sum() - 15
    assert win.bounding_box is not None  # the caller's WCS objects are unchanged
    assert wout.bounding_box is not None


def test_disable_bbox_from_and_both():
    win, wout = _wcs((0, 0), ((1.5, 9.5), (-0.5, 9.5))), _wcs((0, 0))
    only_to = pixmap_from_wcs(win, wout)
    assert np.isnan(only_to[:, :2]).all()  # outside the input's own box
    assert np.isfinite(only_to[:, 2:]).all()
    for which in ("from", "both"):
        assert np.isfinite(pixmap_from_wcs(win, wout, disable_bbox=which)).all()
    with pytest.raises(DitherlabValueError, match="disable_bbox"):
        pixmap_from_wcs(win, wout, disable_bbox="output")


def test_shape_from_the_bounding_box_when_there_is_no_array_shape():
    win = _wcs((0, 0), ((5.3, 33.5), (2.8, 11.5)))
    win.array_shape = None
    assert pixmap_from_wcs(win, _wcs((0, 0))).shape == (12, 34, 2)
    assert pixmap_from_wcs(win, _wcs((0, 0)), (4, 5)).shape == (4, 5, 2)  # shape wins
    win.array_shape = (7, 9)  # array_shape wins over the box
    assert pixmap_from_wcs(win, _wcs((0, 0))).shape == (7, 9, 2)
    win.array_shape = None
    win.bounding_box = None
    with pytest.raises(DitherlabValueError, match="neither array_shape nor bounding_box"):
        pixmap_from_wcs(win, win)
