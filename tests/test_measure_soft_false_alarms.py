"""scripts/measure_soft_false_alarms.py: DFDC's real crops called fake, fifth by fifth of their sharpness."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.evaluation import subgroups
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
    real, values, called_fake = measure_soft_false_alarms.real_faces(crops, probabilities, 0.5, 64)
    assert real.tolist() == [True] * 10 + [False] * 2 and values.size == called_fake.size == 10
    fifths = subgroups.fifth_rates(values, called_fake)
    assert [rate.count for rate in fifths] == [2, 2, 2, 2, 2]
    assert [rate.called_fake for rate in fifths] == [2, 0, 0, 0, 0]  # the two most blurred reals, not the fakes
    spans = [rate.span for rate in fifths]
    assert all(low <= high for low, high in spans) and spans[0][1] <= spans[1][0]
    limit = spans[1][0]  # the second fifth's softest: the first fifth lies under it
    softer, rest = measure_soft_false_alarms.split_at(values, called_fake, limit)
    assert (softer.count, softer.called_fake, rest.count, rest.called_fake) == (2, 2, 8, 0)
    with pytest.raises(ValueError, match="one side"):
        measure_soft_false_alarms.split_at(values, called_fake, 0.0)
    with pytest.raises(ValueError, match="no real"):
        measure_soft_false_alarms.real_faces(crops.subset(labels == 1), np.array([0.9, 0.9]), 0.5, 64)


def test_blurring_the_same_faces_shows_whether_softness_alone_raises_false_alarms():
    class SoftnessReader:
        """Scores a face fake the less fine detail it has (a model that reads softness as a trace)."""

        def score(self, images):
            detail = np.array([np.abs(np.diff(image.astype(float), axis=0)).mean() for image in images])
            return np.clip(1 - detail / 40, 0, 1)

    faces = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    unblurred = measure_soft_false_alarms.blurred_called_fake(faces, SoftnessReader(), 0.5, 0.0)
    blurred = measure_soft_false_alarms.blurred_called_fake(faces, SoftnessReader(), 0.5, 2.0)
    assert (unblurred.called_fake, blurred.called_fake, blurred.count) == (0, 6, 6)
    assert blurred.group == "sigma 2"
    with pytest.raises(ValueError, match="sigma"):
        measure_soft_false_alarms.blurred_called_fake(faces, SoftnessReader(), 0.5, -1.0)


def test_the_sharper_half_of_one_label_is_chosen_by_its_own_median(tmp_path):
    pattern = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    files, sigmas = [], [0.0, 0.6, 1.2, 2.0, 0.0, 3.0]
    for index, sigma in enumerate(sigmas):
        image = cv2.GaussianBlur(pattern, (0, 0), sigma) if sigma else pattern
        files.append(f"{index}.png")
        cv2.imwrite(str(tmp_path / files[-1]), np.dstack([image] * 3))
    labels = np.array([1, 1, 1, 1, 0, 0])
    crops = datasets.CropSet(tmp_path, tuple(files), labels, tuple(files))
    images = np.arange(6)[:, None, None, None] * np.ones((6, 32, 32, 3), np.uint8)
    chosen, median = measure_soft_false_alarms.sharper_half(crops, images, 1, 32)
    # The two least blurred of the four fakes; no real among them.
    assert sorted(chosen[:, 0, 0, 0].tolist()) == [0, 1]
    assert median > 0
    with pytest.raises(ValueError, match="no crop labelled"):
        measure_soft_false_alarms.sharper_half(crops.subset(labels == 0), images[4:], 1, 32)


def test_blurring_fakes_needs_dfdc_people_and_a_blur(capsys):
    for argv in (["x", "--blur-fakes", "--blur", "1", "--people", "utkface"], ["x", "--blur-fakes"]):
        with pytest.raises(SystemExit):
            measure_soft_false_alarms.main(argv)
        assert "--blur-fakes needs" in capsys.readouterr().err
