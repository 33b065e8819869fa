"""The boundary head diagnostic's ranking figure."""

import numpy as np
import pytest

from scripts import measure_boundary_head


def test_the_interval_is_the_roc_auc_with_its_spread_over_whole_groups():
    labels = np.tile([0, 1], 40)
    groups = np.repeat(np.arange(40), 2)
    assert measure_boundary_head._interval(labels, labels.astype(float), groups) == (1.0, 1.0, 1.0)
    inverted = measure_boundary_head._interval(labels, 1.0 - labels, groups)
    assert inverted == (0.0, 0.0, 0.0)
    noise = np.random.default_rng(1).uniform(size=len(labels))
    estimate, low, high = measure_boundary_head._interval(labels, noise, groups)
    assert low < estimate < high and low < 0.5 < high
    assert high - low == pytest.approx(0.25, abs=0.12)
