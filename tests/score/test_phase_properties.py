"""Numeric primitives of the geometry scores, by hypothesis: invariances, bounds, references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.score.phase import (
    clearance_kernel,
    covering_radius_kernel,
    efficiency_kernel,
    efficiency_rows,
    gap_rows,
)

coord = st.floats(-30, 30, allow_nan=False, allow_infinity=False)
sets = st.integers(1, 9).flatmap(
    lambda n: st.lists(st.tuples(coord, coord), min_size=n, max_size=n).map(np.array)
)


def _eff_reference(d, nx, ny):
    j, l = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    freq = np.column_stack([j.ravel(), l.ravel()])
    a = np.exp(-2j * np.pi * (d @ freq.T))
    g = a.conj().T @ a
    w = np.linalg.eigvalsh(g)
    if len(d) < nx * ny or w[0] <= 1e-9 * len(d):
        return 0.0
    return nx * ny / (len(d) * np.sum(1 / w))


@settings(max_examples=60)
@given(d=sets, over=st.sampled_from([(2, 2), (1, 2), (3, 3), (2, 3)]))
def test_efficiency_matches_eigenvalue_reference(d, over):
    got = efficiency_kernel(d[None], *over)[0]
    want = _eff_reference(d, *over)
    if want > 1e-3:
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert 0.0 <= got <= 1.0


@given(
    d=sets,
    shifts=st.lists(st.tuples(st.integers(-9, 9), st.integers(-9, 9)), min_size=9, max_size=9),
    perm_seed=st.integers(0, 1000),
)
def test_whole_pixel_shifts_and_order_do_not_change_phase_scores(d, shifts, perm_seed):
    # η, covering radius and phase gaps see only the phases, in any order
    moved = d + np.asarray(shifts[: len(d)], float)
    moved = moved[np.random.default_rng(perm_seed).permutation(len(d))]
    both = np.stack([d, moved])
    eff = efficiency_kernel(both, 2, 2)
    assert eff[1] == pytest.approx(eff[0], abs=1e-5)
    cr = covering_radius_kernel(both)
    assert cr[1] == pytest.approx(cr[0], abs=1e-9)
    for axis in (0, 1):
        g = gap_rows(np.ascontiguousarray(both[:, :, axis].T))
        assert g[1] == pytest.approx(g[0], abs=1e-9)


@given(d=sets, common=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_a_common_shift_changes_nothing_but_the_start(d, common):
    both = np.stack([d, d + np.asarray(common)])
    assert np.ptp(efficiency_kernel(both, 2, 2)) < 1e-5
    assert np.ptp(covering_radius_kernel(both)) < 1e-9
    assert np.ptp(clearance_kernel(both)) < 1e-9


@settings(max_examples=40)
@given(d=sets)
def test_covering_radius_bounds_and_brute_force(d):
    rho = covering_radius_kernel(d[None])[0]
    n = len(d)
    # N discs of radius ρ cover the unit cell: the hexagonal bound; one point: √2/2
    assert rho >= np.sqrt(2 / (3 * np.sqrt(3) * n)) - 1e-9
    assert rho <= np.sqrt(2) / 2 + 1e-12
    # a dense grid of cell points can only find distances up to ρ, and within h of it
    res = 96
    g = (np.arange(res) + 0.5) / res
    px, py = np.meshgrid(g, g)
    ph = np.mod(d, 1.0)
    dx = px[..., None] - ph[:, 0]
    dy = py[..., None] - ph[:, 1]
    dx -= np.round(dx)
    dy -= np.round(dy)
    brute = np.sqrt((dx**2 + dy**2).min(axis=-1)).max()
    assert brute - 1e-9 <= rho <= brute + np.sqrt(2) / (2 * res) + 1e-9


@given(d=sets, extra=st.tuples(coord, coord))
def test_more_frames_never_cover_worse_nor_clear_more(d, extra):
    more = np.vstack([d, [extra]])
    assert covering_radius_kernel(more[None])[0] <= covering_radius_kernel(d[None])[0] + 1e-12
    if len(d) >= 2:  # (one exposure clears nothing: 0 by definition)
        assert clearance_kernel(more[None])[0] <= clearance_kernel(d[None])[0] + 1e-12


@given(d=sets)
def test_gaps_and_clearance_match_sorting_and_all_pairs(d):
    for axis in (0, 1):
        v = np.sort(np.mod(d[:, axis], 1.0))
        want = np.max(np.diff(np.concatenate([v, [v[0] + 1.0]])))
        got = gap_rows(np.ascontiguousarray(d[:, axis][:, None]))[0]
        assert got == pytest.approx(want, abs=1e-9)
    pairs = [
        np.max(np.abs(d[i] - d[j])) for i in range(len(d)) for j in range(i + 1, len(d))
    ]
    assert clearance_kernel(d[None])[0] == pytest.approx(min(pairs) if pairs else 0.0)


def test_rows_and_batches_agree():
    d = np.random.default_rng(0).uniform(-3, 3, (50, 5, 2))
    rows = efficiency_rows(np.ascontiguousarray(d[:, :, 0].T), np.ascontiguousarray(d[:, :, 1].T),
                           2, 2)
    np.testing.assert_array_equal(rows, efficiency_kernel(d, 2, 2))
