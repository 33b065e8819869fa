"""The training-sharpness diagnostic: quartiles per slot and each fake's ratio to its own source's reals."""

import cv2
import numpy as np
import pytest

from detector.training.augment import AugmentationPolicy
from scripts import measure_training_sharpness as measuring


def _draw(slot, rng):
    image = rng.uniform(0, 255, (64, 64, 3)).astype(np.float32)
    if slot[1] != "real":
        image = cv2.GaussianBlur(image, (0, 0), 1.5 if slot[0] == "a" else 0.6)
    return image.astype(np.uint8)


SLOTS = [
    ("real", ("a", "real"), 0.5),
    ("real", ("b", "real"), 0.5),
    ("fake", ("a", "self_blend"), 0.5),
    ("fake", ("b", "self_blend"), 0.5),
]


def test_softer_fakes_give_a_ratio_under_one_per_source():
    found = measuring.measure(SLOTS, _draw, {"none": None}, 20, np.random.default_rng(0))
    ratios = measuring.fake_to_real(found, "none")
    assert set(ratios) == {("a", "self_blend"), ("b", "self_blend")}
    assert ratios[("a", "self_blend")] < ratios[("b", "self_blend")] < 1.0
    low, middle, high = found[0].quartiles["none"]
    assert low <= middle <= high


def test_a_blurring_policy_lowers_the_reals_sharpness():
    everything_blurred = AugmentationPolicy(flip=0, color=0, blur=1.0, rescale=0, jpeg=0, h264=0)
    found = measuring.measure(
        SLOTS[:1], _draw, {"none": None, "blur": everything_blurred}, 20, np.random.default_rng(0)
    )
    assert found[0].quartiles["blur"][1] < found[0].quartiles["none"][1]
    printed = measuring.table(found)
    assert "real a/real" in printed and "blur" in printed


def test_policies_are_named_or_written():
    assert measuring.policy("none") is None
    assert measuring.policy("default") == AugmentationPolicy()
    assert measuring.policy("blur=0.4").blur == 0.4
    with pytest.raises(ValueError):
        measuring.policy("sharpen=1")
    with pytest.raises(ValueError):
        measuring.measure(SLOTS, _draw, {"none": None}, 0, np.random.default_rng(0))


def test_a_sources_fakes_are_weighed_by_their_shares_in_its_ratio():
    def values(value):
        return {"none": np.full(10, float(value))}

    found = [
        measuring.SlotSharpness("real", ("a", "real"), 1.0, values(100)),
        # Three quarters of the fakes at 50, a quarter at 100: their median is 50 however many of each were drawn.
        measuring.SlotSharpness("fake", ("a", "one"), 0.75, values(50)),
        measuring.SlotSharpness("fake", ("a", "two"), 0.25, {"none": np.full(30, 100.0)}),
    ]
    assert measuring.source_ratios(found, "none") == {"a": pytest.approx(0.5)}
    assert "all fakes of a" in measuring.table(found)
