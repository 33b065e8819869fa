import numpy as np
import pytest

from detector.types import (
    DecisionThresholds,
    FaceBox,
    FaceCrop,
    FaceScore,
    SampledFrame,
    Verdict,
    VerdictLabel,
    VideoInfo,
    probability_text,
    threshold_text,
)


def test_face_box_geometry():
    box = FaceBox(10, 20, 30, 40, 0.9)
    assert box.center == (25, 40)
    assert box.size == 40
    assert box.iou(box) == pytest.approx(1.0)
    assert box.iou(FaceBox(100, 100, 5, 5, 0.9)) == 0.0
    assert FaceBox(0, 0, 10, 10, 0.5).iou(FaceBox(5, 0, 10, 10, 0.5)) == pytest.approx(50 / 150)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FaceBox(0, 0, 0, 10, 0.5),
        lambda: FaceBox(0, 0, 10, 10, 1.5),
        lambda: SampledFrame(0, 0.0, np.zeros((4, 4), np.uint8)),
        lambda: SampledFrame(0, 0.0, np.zeros((4, 4, 3), np.float32)),
        lambda: SampledFrame(-1, 0.0, np.zeros((4, 4, 3), np.uint8)),
        lambda: FaceCrop(0, 0.0, FaceBox(0, 0, 1, 1, 0.5), np.zeros((4, 5, 3), np.uint8)),
        lambda: FaceScore(0, 0.0, FaceBox(0, 0, 1, 1, 0.5), 0, float("nan")),
        lambda: Verdict(VerdictLabel.FAKE, None, "x", "mean", 0.5, 0.3),
        lambda: VideoInfo("a", 1, 0, 10, 30.0, 10, 1.0),
        lambda: VideoInfo("a", 1, 10, 10, 30.0, 10, 1.0, rotation_degrees=45),
    ],
)
def test_contracts_reject_invalid_values(make):
    with pytest.raises(ValueError):
        make()


def test_plain_words():
    assert VerdictLabel.FAKE.plain_words == "Likely manipulated"
    assert VerdictLabel.UNCERTAIN.plain_words == "Inconclusive"


@pytest.mark.parametrize(
    ("threshold", "text"),
    [(0.85, "0.85"), (0.866, "0.866"), (0.1516, "0.1516"), (0.697089770101956, "0.6971"), (1.0, "1.00"), (0.0, "0.00")],
)
def test_threshold_text_shows_what_is_decided_with(threshold, text):
    assert threshold_text(threshold) == text


@pytest.mark.parametrize(
    ("probability", "thresholds", "text"),
    [
        (0.868, (0.866,), "0.87"),  # two decimals where they read on the right side
        (0.8655, (0.866,), "0.8655"),  # "0.87", and rounded "0.866", would read as at the threshold
        (0.8659999999, (0.866,), "0.8659"),  # cut, never rounded up onto the threshold
        (0.866, (0.866,), "0.87"),  # at the threshold is at or above it
        (0.1518, (0.866, 0.1516), "0.152"),  # "0.15" would read as under "0.1516"
        (0.1514, (0.866, 0.1516), "0.15"),
        (0.125, (), "0.13"),  # rounded half up, as a reader rounds
        (1.0, (), "1.00"),
        (1e-9, (), "0.00"),
    ],
)
def test_probability_text_keeps_the_side_of_each_threshold(probability, thresholds, text):
    assert probability_text(probability, thresholds) == text


def test_probability_text_agrees_with_the_thresholds_everywhere():
    """Over many probabilities near 4-decimal thresholds, the shown value compares with the shown threshold as the
    probability does with the threshold (the reader's comparison is the checker's)."""
    rng = np.random.default_rng(7)
    thresholds = (0.866, 0.1516, 0.5)
    probabilities = np.concatenate([rng.uniform(0, 1, 2000), *(t + rng.uniform(-2e-4, 2e-4, 500) for t in thresholds)])
    for probability in probabilities.clip(0, 1):
        shown = float(probability_text(float(probability), thresholds))
        for threshold in thresholds:
            assert (shown >= float(threshold_text(threshold))) == (probability >= threshold), (probability, threshold)


def test_verdict_shows_its_probability_beside_its_own_thresholds():
    verdict = Verdict(VerdictLabel.UNCERTAIN, 0.1518, "x", "mean", 0.866, 0.1516)
    assert verdict.probability_text() == "0.152"
    with pytest.raises(ValueError, match="no probability"):
        Verdict(VerdictLabel.UNCERTAIN, None, "x", "mean", 0.866, 0.1516).probability_text()
    with pytest.raises(ValueError, match="uncertain_low"):
        Verdict(VerdictLabel.REAL, 0.1, "x", "mean", 0.866, 1.5)
    thresholds = DecisionThresholds(0.866, 0.1516, "clips")
    assert thresholds.probability_text(0.8655) == "0.8655"
