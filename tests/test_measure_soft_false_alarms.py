"""scripts/measure_soft_false_alarms.py: DFDC's real crops called fake, fifth by fifth of their sharpness."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.training import datasets
from scripts import measure_soft_false_alarms


def test_only_the_reals_are_counted_each_in_the_fifth_of_its_sharpness(tmp_path):
    # Ten reals, blurred less and less (the softest called fake), and two fakes that must not be counted.
    pattern = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    files = []
    for index in range(12):
        sigma = 0.4 * (10 - index) if index < 10 else 1.0
        image = cv2.GaussianBlur(pattern, (0, 0), sigma) if sigma > 0 else pattern
        files.append(f"{index}.png")
        cv2.imwrite(str(tmp_path / files[-1]), np.dstack([image] * 3))
    labels = np.array([0] * 10 + [1] * 2)
    crops = datasets.CropSet(tmp_path, tuple(files), labels, tuple(files))
    probabilities = np.array([0.9, 0.9] + [0.1] * 8 + [0.95, 0.95])
    fifths = measure_soft_false_alarms.false_alarms_by_sharpness(crops, probabilities, 0.5, 64)
    assert [rate.count for rate in fifths] == [2, 2, 2, 2, 2]
    assert [rate.called_fake for rate in fifths] == [2, 0, 0, 0, 0]  # the two most blurred reals, not the fakes
    spans = [rate.span for rate in fifths]
    assert all(low <= high for low, high in spans) and spans[0][1] <= spans[1][0]
    limit = spans[1][0]  # the second fifth's softest: the first fifth lies under it
    softer, rest = measure_soft_false_alarms.split_at(crops, probabilities, 0.5, 64, limit)
    assert (softer.count, softer.called_fake, rest.count, rest.called_fake) == (2, 2, 8, 0)
    with pytest.raises(ValueError, match="one side"):
        measure_soft_false_alarms.split_at(crops, probabilities, 0.5, 64, 0.0)
    with pytest.raises(ValueError, match="no real"):
        measure_soft_false_alarms.false_alarms_by_sharpness(crops.subset(labels == 1), np.array([0.9, 0.9]), 0.5, 64)
