"""Numeric primitives: polygon/pixel overlap areas, rounding, pixmap interpolation."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import quad_pixel_overlaps
from ditherlab.drizzle._kernels import fortran_round, quad_area
from ditherlab.drizzle._scan import bilinear_points, scan_limits

EPS = np.finfo(float).eps


def _clip_area(px, py, x0, y0):
    """Independent check: Sutherland-Hodgman clip to [x0, x0+1] x [y0, y0+1], shoelace."""
    poly = list(zip(px, py, strict=True))
    # orient counter-clockwise
    a = sum(poly[k - 1][0] * poly[k][1] - poly[k][0] * poly[k - 1][1] for k in range(len(poly)))
    if a < 0:
        poly = poly[::-1]
    clips = ((0, x0, False), (0, x0 + 1, True), (1, y0, False), (1, y0 + 1, True))
    for axis, bound, keep_below in clips:
        src, poly = poly, []
        for k in range(len(src)):
            s, e = src[k - 1], src[k]
            s_in = s[axis] <= bound if keep_below else s[axis] >= bound
            e_in = e[axis] <= bound if keep_below else e[axis] >= bound
            if e_in:
                if not s_in:
                    t = (bound - s[axis]) / (e[axis] - s[axis])
                    poly.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
                poly.append(e)
            elif s_in:
                t = (bound - s[axis]) / (e[axis] - s[axis])
                poly.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
        if not poly:
            return 0.0
    return 0.5 * abs(
        sum(poly[k - 1][0] * poly[k][1] - poly[k][0] * poly[k - 1][1] for k in range(len(poly)))
    )


def _convex_quad(cx, cy, ang, w, h, shear):
    c, s = math.cos(ang), math.sin(ang)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    pts = [(u + shear * v, v) for u, v in pts]
    xs = [cx + c * u - s * v for u, v in pts]
    ys = [cy + s * u + c * v for u, v in pts]
    return np.array([xs]), np.array([ys])


quads = st.tuples(
    st.floats(-3, 3),
    st.floats(-3, 3),
    st.floats(0, 2 * math.pi),
    st.floats(0.01, 4.0),
    st.floats(0.01, 4.0),
    st.floats(-0.8, 0.8),
)


@settings(max_examples=150)
@given(quads)
@example((0.0, 0.0, 0.0, 1.0, 1.0, 0.0))  # exactly one pixel
@example((0.5, 0.5, 0.0, 1.0, 1.0, 0.0))  # edges on pixel boundaries
def test_overlaps_match_independent_clipping(q):
    xq, yq = _convex_quad(*q)
    k, ii, jj, a = quad_pixel_overlaps(xq, yq)
    total = quad_area([xq[:, v] for v in range(4)], [yq[:, v] for v in range(4)])[0]
    got = {(int(i), int(j)): float(v) for i, j, v in zip(ii, jj, a, strict=True)}
    for i in range(math.floor(xq.min()) - 1, math.ceil(xq.max()) + 2):
        for j in range(math.floor(yq.min()) - 1, math.ceil(yq.max()) + 2):
            want = _clip_area(xq[0], yq[0], i - 0.5, j - 0.5)
            np.testing.assert_allclose(
                got.get((i, j), 0.0), want, rtol=0, atol=64 * EPS * max(total, 1)
            )
    # the pieces add up to the whole quadrilateral
    np.testing.assert_allclose(a.sum(), total, rtol=64 * EPS, atol=64 * EPS)
    assert np.all(a > 0)
    assert np.all(k == 0)


@settings(max_examples=50)
@given(st.lists(quads, min_size=2, max_size=20))
def test_many_quads_at_once_sum_to_their_areas(qs):
    xs, ys = zip(*(_convex_quad(*q) for q in qs), strict=True)
    xq, yq = np.vstack(xs), np.vstack(ys)
    k, _, _, a = quad_pixel_overlaps(xq, yq)
    sums = np.bincount(k, weights=a, minlength=len(qs))
    total = quad_area([xq[:, v] for v in range(4)], [yq[:, v] for v in range(4)])
    np.testing.assert_allclose(sums, total, rtol=128 * EPS, atol=128 * EPS)


def test_orientation_does_not_matter():
    xq, yq = _convex_quad(0.3, 0.7, 0.4, 2.2, 1.3, 0.2)
    a1 = quad_pixel_overlaps(xq, yq)[3]
    a2 = quad_pixel_overlaps(xq[:, ::-1], yq[:, ::-1])[3]
    np.testing.assert_allclose(np.sort(a1), np.sort(a2), rtol=0, atol=64 * EPS)


def test_empty_input():
    k, ii, jj, a = quad_pixel_overlaps(np.zeros((0, 4)), np.zeros((0, 4)))
    assert k.size == ii.size == jj.size == a.size == 0


def test_fortran_round_half_away_from_zero():
    got = fortran_round(np.array([-2.5, -1.5, -0.5, -0.49, 0.0, 0.49, 0.5, 1.5, 2.5]))
    assert got.tolist() == [-3, -2, -1, 0, 0, 0, 1, 2, 3]


@given(st.floats(-2, 12), st.floats(-2, 9))
def test_bilinear_points_exact_for_affine_maps(x, y):
    yy, xx = np.indices((8, 11), dtype=float)
    pm = np.dstack([1.3 * xx - 0.4 * yy + 2.0, 0.2 * xx + 0.9 * yy - 1.0])
    ox, oy = bilinear_points(pm, np.array([x]), np.array([y]))
    np.testing.assert_allclose(ox, 1.3 * x - 0.4 * y + 2.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(oy, 0.2 * x + 0.9 * y - 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nan_at", [(0, 0), (3, 4)])
def test_bilinear_points_nan_propagates(nan_at):
    yy, xx = np.indices((6, 6), dtype=float)
    pm = np.dstack([xx, yy])
    pm[nan_at] = np.nan
    ox, _ = bilinear_points(pm, np.array([nan_at[1] + 0.25]), np.array([nan_at[0] + 0.25]))
    assert np.isnan(ox[0])


@settings(max_examples=150, deadline=None)
@given(
    angle=st.floats(0.0, 360.0),
    scale=st.floats(0.3, 3.0),
    shift=st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0)),
    quad=st.floats(-2.0, 2.0),
    margin=st.floats(-4.0, 6.0),
    section=st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
)
def test_scan_shortcut_equals_full_rule(angle, scale, shift, quad, margin, section):
    """The 'corners inside the output' shortcut returns what the full C rule returns."""
    ny, nx = 23, 31
    y, x = np.indices((ny, nx), dtype=float)
    u, v = x - nx / 2, y - ny / 2
    r2 = (u * u + v * v) / (nx * nx / 4)
    a = math.radians(angle)
    xo = (math.cos(a) * u - math.sin(a) * v + quad * r2 * u / nx) / scale
    yo = (math.sin(a) * u + math.cos(a) * v + quad * r2 * v / ny) / scale
    pm = np.dstack([xo, yo])
    pm -= pm.reshape(-1, 2).min(axis=0) - margin - np.array(shift)
    hi = pm.reshape(-1, 2).max(axis=0)
    out_shape = (max(int(hi[1] + margin), 2), max(int(hi[0] + margin), 2))
    box = (section[0], nx - 1 - section[1], section[2], ny - 1 - section[3])
    y0, x1, x2 = scan_limits(pm, out_shape, box)
    r0, r1, r2_ = scan_limits(pm, out_shape, box, shortcut=False)
    keep = x2 >= x1
    keep_ref = r2_ >= r1
    rows = (y0 + np.arange(x1.size))[keep]
    rows_ref = (r0 + np.arange(r1.size))[keep_ref]
    assert rows.tolist() == rows_ref.tolist()
    assert x1[keep].tolist() == r1[keep_ref].tolist()
    assert x2[keep].tolist() == r2_[keep_ref].tolist()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_drops_wider_than_most_get_windows_of_their_own_shape(seed):
    """Most drops fit a 2x2 window; the others are computed again in windows of their own
    shape (2 wide x 3 tall, 3 x 2, 3 x 3): every overlap must still match an independent
    clip, and each drop's pieces must add up to its area."""
    from ditherlab.drizzle._kernels import square_pieces

    rng = np.random.default_rng(seed)
    n = 60
    w = np.where(rng.uniform(size=n) < 0.2, 1.7, 0.9)
    h = np.where(rng.uniform(size=n) < 0.2, 1.7, 0.9)
    quads = [_convex_quad(rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-0.1, 0.1),
                          w[k], h[k], rng.uniform(-0.05, 0.05)) for k in range(n)]  # fmt: skip
    xq = np.vstack([q[0] for q in quads])
    yq = np.vstack([q[1] for q in quads])
    pieces = square_pieces([xq[:, v].copy() for v in range(4)],
                           [yq[:, v].copy() for v in range(4)])  # fmt: skip
    got: list[dict[tuple[int, int], float]] = [{} for _ in range(n)]
    for sel, c0, r0, a in pieces:
        idx = np.arange(n) if sel is None else sel
        gy, gx = a.shape[:2]
        for pos, k in enumerate(idx):
            for q in range(gy):
                for p in range(gx):
                    cell = (int(c0[pos]) + p, int(r0[pos]) + q)
                    got[k][cell] = got[k].get(cell, 0.0) + float(a[q, p, pos])
    assert pieces[0][3].shape[:2] == (2, 2)
    assert len({a.shape[:2] for _, _, _, a in pieces[1:]}) == len(pieces) - 1 >= 2
    total = quad_area([xq[:, v] for v in range(4)], [yq[:, v] for v in range(4)])
    for k in range(n):
        mine = got[k]
        np.testing.assert_allclose(sum(mine.values()), total[k], rtol=64 * EPS)
        for i in range(math.floor(xq[k].min()) - 1, math.ceil(xq[k].max()) + 2):
            for j in range(math.floor(yq[k].min()) - 1, math.ceil(yq[k].max()) + 2):
                want = _clip_area(xq[k], yq[k], i - 0.5, j - 0.5)
                np.testing.assert_allclose(mine.get((i, j), 0.0), want, rtol=0, atol=64 * EPS)
