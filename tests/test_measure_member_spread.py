"""The disagreement-aware calibration the member-spread diagnostic fits."""

import numpy as np
import pytest

from scripts import measure_member_spread


def _crops(informative: bool, count: int = 4000):
    """Logits that rank well where the members agree; where they disagree (``informative``) the label is a coin."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, count)
    spread = rng.uniform(0.0, 3.0, count)
    signal = np.where(labels == 1, 2.0, -2.0) + rng.normal(0.0, 1.0, count)
    if informative:
        coin = rng.uniform(size=count) < spread / 3.0
        labels = np.where(coin, rng.integers(0, 2, count), labels)
    return signal, spread, labels


def test_the_spread_term_is_used_only_where_disagreement_says_something():
    logit, spread, labels = _crops(informative=True)
    fitted = measure_member_spread._fit(logit, spread, labels, np.ones(labels.size), with_spread=True)
    assert np.exp(fitted[2]) > 0.3
    probabilities = measure_member_spread._calibrated(fitted, logit, spread)
    assert probabilities[spread > 2.5].std() < probabilities[spread < 0.5].std()

    logit, spread, labels = _crops(informative=False)
    fitted = measure_member_spread._fit(logit, spread, labels, np.ones(labels.size), with_spread=True)
    assert np.exp(fitted[2]) < 0.05


def test_without_the_spread_term_it_is_platt_scaling():
    logit, spread, labels = _crops(informative=False)
    fitted = measure_member_spread._fit(logit, spread, labels, np.ones(labels.size), with_spread=False)
    assert np.exp(fitted[2]) == pytest.approx(0.0, abs=1e-12)
    plain = 1.0 / (1.0 + np.exp(-(fitted[0] * logit + fitted[1])))
    np.testing.assert_allclose(measure_member_spread._calibrated(fitted, logit, spread), plain, atol=1e-9)
