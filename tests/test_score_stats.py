"""Clopper-Pearson bounds and the paired bootstrap over objects, against hand values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from siscore.score.stats import clopper_pearson, object_weights, paired_bootstrap


def test_clopper_pearson_matches_scipy_exact_interval():
    for k, n in [(0, 4), (1, 4), (2, 4), (4, 4), (7, 18), (0, 1), (1, 1), (250, 1000),
                 (999, 1000), (3, 1087)]:
        low, high = clopper_pearson(np.array([k]), np.array([n]))
        ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert low[0] == pytest.approx(ref.low, abs=1e-12)
        assert high[0] == pytest.approx(ref.high, abs=1e-12)


def test_clopper_pearson_hand_values():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n)
    low, high = clopper_pearson(np.array([0, 4, 10]), np.array([4, 4, 10]))
    assert (low[0], high[0]) == (0.0, pytest.approx(1 - 0.025 ** 0.25, abs=1e-12))
    assert (low[1], high[1]) == (pytest.approx(0.025 ** 0.25, abs=1e-12), 1.0)
    assert high[0] == pytest.approx(0.602365, abs=1e-6)
    assert low[1] == pytest.approx(0.397635, abs=1e-6)
    # k = 1, n = 4: lower solves (1 - p)^4 = 0.975, i.e. p = 1 - 0.975^(1/4)
    low, _ = clopper_pearson(np.array([1]), np.array([4]))
    assert low[0] == pytest.approx(1 - 0.975 ** 0.25, abs=1e-12)
    # symmetric: k = 5 of 10 gives [0.187086, 0.812914]
    low, high = clopper_pearson(np.array([5]), np.array([10]))
    assert low[0] == pytest.approx(0.187086, abs=1e-6)
    assert high[0] == pytest.approx(1 - low[0], abs=1e-12)


def test_clopper_pearson_empty_and_fractional_counts():
    low, high = clopper_pearson(np.array([0.0, 2.5, 2.0, 3.0]), np.array([0, 4, 4, 4]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    # a weighted count between two integers gives bounds between theirs
    assert low[2] < low[1] < low[3]
    assert high[2] < high[1] < high[3]


def test_object_weights_are_seeded_resamples():
    w = object_weights(50, 200, seed=3)
    assert w.shape == (50, 200)
    assert (w.sum(0) == 50).all()  # each replicate draws 50 objects with replacement
    np.testing.assert_array_equal(w, object_weights(50, 200, seed=3))
    assert not np.array_equal(w, object_weights(50, 200, seed=4))


def test_paired_bootstrap_constant_difference_has_no_spread():
    cell = np.repeat([0, 1], 6)
    obj = np.tile(np.arange(6), 2)
    diff = np.where(cell == 0, 1.0, 0.0)
    est, low, high = paired_bootstrap(cell, obj, diff, 2, object_weights(6, 300, 0))
    np.testing.assert_allclose(est, [1.0, 0.0])
    np.testing.assert_allclose(low, [1.0, 0.0])
    np.testing.assert_allclose(high, [1.0, 0.0])


def test_paired_bootstrap_interval_covers_estimate_and_is_deterministic():
    rng = np.random.default_rng(1)
    cell = rng.integers(0, 3, 600)
    obj = rng.integers(0, 40, 600)
    diff = rng.choice([-1.0, 0.0, 1.0], 600, p=[0.2, 0.5, 0.3])
    w = object_weights(40, 500, 7)
    est, low, high = paired_bootstrap(cell, obj, diff, 3, w)
    for c in range(3):
        assert est[c] == pytest.approx(diff[cell == c].mean())
        assert low[c] <= est[c] <= high[c]
    again = paired_bootstrap(cell, obj, diff, 3, w, max_block=1)  # one cell per block
    np.testing.assert_array_equal(np.stack([est, low, high]), np.stack(again))


def test_paired_bootstrap_balanced_point_estimate():
    # cell 0: class 0 has one object (diff +1), class 1 three objects (diffs 0, 0, +1)
    cell = np.zeros(4, dtype=int)
    obj = np.array([0, 1, 2, 3])
    diff = np.array([1.0, 0.0, 0.0, 1.0])
    object_class = np.array([0, 1, 1, 1])
    est, low, high = paired_bootstrap(cell, obj, diff, 1, object_weights(4, 400, 0),
                                      object_class=object_class)
    assert est[0] == pytest.approx((1.0 + 1 / 3) / 2)
    assert low[0] <= est[0] <= high[0]
