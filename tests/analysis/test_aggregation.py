import numpy as np
import pytest

from detector.analysis import aggregation
from detector.types import Track, Verdict, VerdictLabel


@pytest.mark.parametrize(
    ("strategy", "values", "expected"),
    [
        ("mean", [0.1, 0.2, 0.9], 0.4),
        ("median", [0.1, 0.2, 0.9], 0.2),
        ("median", [0.0, 1.0], 0.5),
        # 3 of 5 frames confidently fake (share 0.6 >= 0.4): their mean, not diluted by the two low ones.
        ("confident", [0.9, 0.95, 0.85, 0.1, 0.1], 0.9),
        # All frames confidently real: the mean of those.
        ("confident", [0.1, 0.05, 0.15, 0.1], 0.1),
        # One confident fake of five: plain mean.
        ("confident", [0.9, 0.3, 0.3, 0.3, 0.2], 0.4),
        ("mean", [0.7], 0.7),
    ],
)
def test_strategies(strategy, values, expected):
    assert aggregation.aggregate(values, strategy) == pytest.approx(expected)


def test_confident_strategy_parameters_move_the_result():
    values = np.array([0.75, 0.75, 0.75, 0.1])
    assert aggregation.confident_strategy(values) == pytest.approx(np.mean(values))
    assert aggregation.confident_strategy(values, fake_level=0.7) == pytest.approx(0.75)


@pytest.mark.parametrize("values", [[], [0.5, 1.5], [float("nan")]])
def test_aggregate_rejects_bad_input(values):
    with pytest.raises(ValueError):
        aggregation.aggregate(values, "mean")


def test_unknown_strategy():
    with pytest.raises(ValueError, match="strategy"):
        aggregation.aggregate([0.5], "vote")


@pytest.mark.parametrize(
    ("probability", "label"),
    [
        (0.0, VerdictLabel.REAL),
        (0.39, VerdictLabel.REAL),
        (0.4, VerdictLabel.UNCERTAIN),
        (0.6, VerdictLabel.FAKE),
        (1.0, VerdictLabel.FAKE),
    ],
)
def test_label_bands(probability, label):
    assert aggregation.label_for(probability, fake_threshold=0.6, uncertain_low=0.4) is label


def test_decide_abstains_with_too_few_frames():
    verdict = aggregation.decide([0.9, 0.9], "mean", 0.5, 0.5, min_frames=4)
    assert verdict.label is VerdictLabel.UNCERTAIN
    assert verdict.fake_probability is None
    assert "Too few frames" in verdict.reason and "2" in verdict.reason


def test_decide_counts_frames_above_threshold():
    verdict = aggregation.decide([0.9, 0.8, 0.2, 0.7], "mean", 0.5, 0.5, min_frames=4)
    assert verdict.label is VerdictLabel.FAKE
    assert verdict.fake_probability == pytest.approx(0.65)
    assert (verdict.frames_used, verdict.frames_above_threshold, verdict.frames_below_low) == (4, 3, 1)
    assert "3 of 4 frames" in verdict.reason


def test_a_real_verdict_counts_only_the_frames_under_the_inconclusive_band():
    verdict = aggregation.decide([0.05, 0.1, 0.3, 0.9, 0.12], "mean", 0.8, 0.2, min_frames=4)
    assert verdict.label is VerdictLabel.UNCERTAIN  # mean 0.294
    assert verdict.reason == (
        "The combined score 0.29 is in the inconclusive band, from 0.20 up to 0.80: too high to say no sign of "
        "manipulation was found, too low to call the face likely manipulated."
    )
    verdict = aggregation.decide([0.05, 0.1, 0.3, 0.12, 0.1], "mean", 0.8, 0.2, min_frames=4)
    assert verdict.label is VerdictLabel.REAL
    assert (verdict.frames_above_threshold, verdict.frames_below_low) == (0, 4)
    assert verdict.reason == (
        "4 of 5 frames scored below 0.20, where a frame alone shows no sign of manipulation; 0 at or above the "
        "threshold 0.80."
    )
    one_threshold = aggregation.decide([0.05, 0.1, 0.3, 0.12, 0.1], "mean", 0.5, 0.5, min_frames=4)
    assert one_threshold.reason == "5 of 5 frames scored below the threshold 0.50."


def test_frame_counts_must_fit_in_the_frames_used():
    with pytest.raises(ValueError, match="counts within"):
        Verdict(
            VerdictLabel.REAL, 0.1, "x", "mean", 0.8, 0.2, frames_used=4, frames_above_threshold=2, frames_below_low=3
        )


def test_video_verdict_follows_the_most_suspicious_person():
    real = aggregation.decide([0.1] * 5, "mean", 0.5, 0.5, 4)
    fake = aggregation.decide([0.9] * 5, "mean", 0.5, 0.5, 4)
    verdict = aggregation.decide_video([Track(0, (), real), Track(1, (), fake)], "mean", 0.5, 0.5, "none")
    assert verdict.label is VerdictLabel.FAKE
    assert verdict.reason.startswith("Person 2:")


def test_video_verdict_without_people_uses_the_reason_given():
    verdict = aggregation.decide_video([], "mean", 0.5, 0.5, "No face was found in any of the 32 sampled frames.")
    assert verdict.label is VerdictLabel.UNCERTAIN
    assert verdict.fake_probability is None
    assert verdict.reason == "No face was found in any of the 32 sampled frames."
