"""False alarms group by group: the groups read from UTKFace's names, the sharpness fifths and the intervals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.analysis import quality
from detector.evaluation import subgroups


def _photo(folder: Path, name: str, blur: int = 0) -> Path:
    """A drawn 200x200 photo: a fine checkerboard, blurred by a box of ``blur`` pixels (0: sharp)."""
    image = (np.indices((200, 200)).sum(axis=0) % 2 * 255).astype(np.uint8)
    if blur:
        image = cv2.blur(image, (blur, blur))
    path = folder / name
    cv2.imwrite(str(path), np.dstack([image] * 3))
    return path


def test_a_wilson_interval_is_given_for_each_rate_even_with_no_false_alarm():
    none = subgroups.group_rate("gender", "female", np.zeros(10, bool))
    assert none.rate == 0.0 and none.low == pytest.approx(0.0, abs=1e-9)
    assert none.high == pytest.approx(1.96**2 / (10 + 1.96**2), abs=1e-3)  # the Wilson bound for 0 of 10
    some = subgroups.group_rate("gender", "male", np.array([True] * 3 + [False] * 7))
    assert some.rate == pytest.approx(0.3) and some.low < 0.3 < some.high
    assert some.to_dict() == {
        "group": "male",
        "count": 10,
        "called_fake": 3,
        "rate": 0.3,
        "interval": [round(some.low, 4), round(some.high, 4)],
    }
    with pytest.raises(ValueError):
        subgroups.GroupRate("gender", "male", 3, 4, 0.0, 1.0)


def test_groups_come_from_utkface_names_and_an_unreadable_name_is_unknown():
    paths = [Path(name) for name in ("25_0_3_2017.jpg", "70_1_1_2017.jpg", "9_1_0_2017.jpg", "portrait.jpg")]
    groups = subgroups.trait_groups(paths)
    assert groups["gender"] == ["male", "female", "female", "unknown"]
    assert groups["ethnicity"] == ["Indian", "Black", "White", "unknown"]
    assert groups["age"] == ["18-39", "60 and over", "under 18", "unknown"]


def test_a_blurred_photo_is_softer_and_falls_in_the_softest_fifth(tmp_path):
    sharp = subgroups.sharpness(_photo(tmp_path, "sharp.png"), 200)
    soft = subgroups.sharpness(_photo(tmp_path, "soft.png", blur=5), 200)
    assert soft < sharp / 10
    # Measured as the page measures the crop it scores: the photo at that side, RGB, through quality.sharpness.
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "soft.png")), cv2.COLOR_BGR2RGB)
    assert soft == pytest.approx(quality.sharpness(image))
    assert subgroups.sharpness(tmp_path / "sharp.png", 100) != pytest.approx(sharp)
    fifths = subgroups.sharpness_groups(np.arange(10, dtype=float))
    assert fifths == [name for name in subgroups.SHARPNESS_FIFTHS for _ in range(2)]
    with pytest.raises(ValueError):
        subgroups.fifth_rates(np.ones(3), np.zeros(2, bool))
    with pytest.raises(FileNotFoundError):
        subgroups.sharpness(tmp_path / "missing.jpg", 224)


def test_each_groups_rate_counts_only_its_own_photos(tmp_path):
    # Five women, all called fake and all soft; five men, none called fake and all sharp.
    women = [_photo(tmp_path, f"{30 + index}_1_2_{index}.jpg", blur=7) for index in range(5)]
    men = [_photo(tmp_path, f"{30 + index}_0_2_{index}.jpg") for index in range(5)]
    called_fake = np.array([True] * 5 + [False] * 5)
    rates = subgroups.false_alarms_by_group(women + men, called_fake, 200)
    gender = {rate.group: (rate.count, rate.called_fake) for rate in rates["gender"]}
    assert gender == {"male": (5, 0), "female": (5, 5)}  # in UTKFace's order, empty groups left out
    assert [rate.group for rate in rates["gender"]] == ["male", "female"]
    assert [(rate.group, rate.rate) for rate in rates["ethnicity"]] == [("Asian", 0.5)]
    assert [(rate.group, rate.count) for rate in rates["age"]] == [("18-39", 10)]
    sharpness = {rate.group: rate for rate in rates["sharpness"]}
    assert sharpness["softest fifth"].rate == 1.0 and sharpness["sharpest fifth"].rate == 0.0
    softest, sharpest = sharpness["softest fifth"].span, sharpness["sharpest fifth"].span
    assert softest is not None and sharpest is not None and softest[1] < sharpest[0]
    assert sharpness["softest fifth"].to_dict()["range"] == [round(softest[0], 2), round(softest[1], 2)]
    assert "range" not in rates["gender"][0].to_dict()
    line = subgroups.summary_line(rates)
    assert "gender: highest female 100.0%" in line and "lowest male 0.0%" in line
    entry = subgroups.card_entry(rates, 0.6)
    assert entry["gender"][1] == rates["gender"][1].to_dict() and "0.6000" in entry["what"]
    with pytest.raises(ValueError):
        subgroups.false_alarms_by_group(women, called_fake, 200)
