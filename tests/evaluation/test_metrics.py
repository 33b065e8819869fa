import numpy as np
import pytest

from detector.evaluation import metrics
from detector.evaluation.metrics import classification_metrics


def test_perfect_and_known_values():
    measured = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert measured["roc_auc"] == pytest.approx(0.75)
    assert measured["accuracy"] == pytest.approx(0.75)
    assert measured["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    assert (measured["count"], measured["count_fake"], measured["count_real"]) == (4, 2, 2)


def test_single_class_has_no_auc():
    assert classification_metrics(np.array([1, 1]), np.array([0.7, 0.9]))["roc_auc"] is None


@pytest.mark.parametrize(("labels", "probabilities"), [([], []), ([0, 1], [0.5]), ([0, 1], [0.2, 1.2])])
def test_rejects_bad_input(labels, probabilities):
    with pytest.raises(ValueError):
        classification_metrics(np.array(labels), np.array(probabilities))


def test_classification_metrics_keeps_its_keys_and_adds_eer_average_precision_and_ece():
    measured = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert {"roc_auc", "log_loss", "accuracy", "balanced_accuracy", "threshold", "count"} <= set(measured)
    assert measured["equal_error_rate"] == pytest.approx(0.5)
    # Ranked fake, real, fake, real: precision 1 at the first fake, 2/3 at the second.
    assert measured["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    # Bins of width 1/15: 0.1 -> bin 1, 0.35 -> bin 5, 0.4 -> bin 6, 0.8 -> bin 12, each alone.
    assert measured["expected_calibration_error"] == pytest.approx(np.mean([0.1, 0.65, 0.4, 0.2]))


@pytest.mark.parametrize(
    ("labels", "probabilities", "rate", "threshold"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 0.0, 0.8),  # perfectly separable
        ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 1.0, 0.8),  # perfectly wrong: every call wrong at 0.8
        ([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5, 0.6),
        # Three reals, three fakes, one real above one fake: both rates 1/3 at 0.7.
        ([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.3, 0.8, 0.9], 1 / 3, 0.7),
    ],
)
def test_equal_error_rate_of_crafted_sets(labels, probabilities, rate, threshold):
    found_rate, found_threshold = metrics.equal_error_rate(np.array(labels), np.array(probabilities))
    assert found_rate == pytest.approx(rate)
    assert found_threshold == pytest.approx(threshold)


def test_equal_error_rate_of_identical_distributions_is_one_half():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 20000)
    rate, _ = metrics.equal_error_rate(labels, rng.random(labels.size))
    assert rate == pytest.approx(0.5, abs=0.01)


def test_equal_error_rate_needs_both_classes():
    with pytest.raises(ValueError, match="both"):
        metrics.equal_error_rate(np.array([1, 1]), np.array([0.2, 0.3]))


def test_ece_of_calibrated_data_is_near_zero_and_of_overconfident_data_large():
    rng = np.random.default_rng(1)
    probabilities = rng.random(200_000)
    calibrated_labels = (rng.random(probabilities.size) < probabilities).astype(int)
    assert metrics.expected_calibration_error(calibrated_labels, probabilities) < 0.005
    # Says 0.99 or 0.01, right only 70 % of the time: every crop is off by 0.29.
    confident = np.where(rng.random(10_000) < 0.5, 0.99, 0.01)
    right = rng.random(confident.size) < 0.7
    overconfident_labels = np.where(right, confident > 0.5, confident < 0.5).astype(int)
    assert metrics.expected_calibration_error(overconfident_labels, confident) == pytest.approx(0.29, abs=0.01)


def test_ece_of_a_constant_prediction_is_its_distance_to_the_base_rate():
    assert metrics.expected_calibration_error(np.array([0, 1, 0, 1]), np.full(4, 0.8)) == pytest.approx(0.3)


def test_calibration_bins_are_fifteen_equal_width_bins_with_one_in_the_last():
    binned = metrics.calibration_bins(np.array([0, 1, 1, 0]), np.array([0.0, 1 / 15, 1.0, 0.999]))
    assert binned["edges"].shape == (16,)
    assert binned["count"].tolist() == [1, 1] + [0] * 12 + [2]
    assert binned["fake_fraction"][14] == pytest.approx(0.5)
    assert np.isnan(binned["mean_probability"][5])


def test_decision_rates_count_the_band_as_neither_call():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probabilities = np.array([0.1, 0.2, 0.5, 0.9, 0.1, 0.45, 0.7, 0.95])
    rates = metrics.decision_rates(labels, probabilities, fake_threshold=0.6, uncertain_low=0.3)
    assert rates["false_positive_rate"] == pytest.approx(1 / 4)  # the real at 0.9
    assert rates["false_negative_rate"] == pytest.approx(1 / 4)  # the fake at 0.1
    assert rates["uncertain_share"] == pytest.approx(2 / 8)  # 0.5 and 0.45
    assert rates["precision_fake"] == pytest.approx(2 / 3)
    assert rates["precision_real"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        metrics.decision_rates(labels, probabilities, fake_threshold=0.3, uncertain_low=0.6)


def _separable_set(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    return labels, np.clip(rng.normal(0.4 + 0.2 * labels, 0.15), 0, 1)


def test_bootstrap_interval_holds_the_point_estimate_narrows_with_more_data_and_repeats():
    widths = []
    for count in (200, 3200):
        labels, probabilities = _separable_set(count, seed=count)
        point = classification_metrics(labels, probabilities)
        intervals = metrics.bootstrap_intervals(labels, probabilities, resamples=300, seed=3)
        for name in metrics.INTERVAL_METRICS:
            assert intervals[name]["resamples"] == 300
            # The ECE's interval is biased upward and need not hold its point (bootstrap_intervals' docstring).
            if name != "expected_calibration_error":
                assert intervals[name]["low"] <= point[name] <= intervals[name]["high"], name
        widths.append(intervals["roc_auc"]["high"] - intervals["roc_auc"]["low"])
    # 16 times the data: about a quarter of the width.
    assert widths[1] < 0.4 * widths[0]
    labels, probabilities = _separable_set(200, seed=200)
    again = metrics.bootstrap_intervals(labels, probabilities, resamples=300, seed=3)
    assert again == metrics.bootstrap_intervals(labels, probabilities, resamples=300, seed=3)


def test_group_resampling_draws_whole_groups_and_widens_the_interval_of_copies():
    groups = np.array(["b", "a", "b", "c", "a", "a"])
    members = metrics.group_members(groups)
    assert [member.tolist() for member in members] == [[1, 4, 5], [0, 2], [3]]
    chosen = metrics.resample_indices(members, groups.size, np.random.default_rng(0))
    counts = np.bincount(chosen, minlength=groups.size)
    for member in members:
        assert len(set(counts[member])) == 1  # every sample of a group drawn equally often

    # 100 independent crops, each copied 10 times into one group: resampling copies one by one pretends to
    # have 1,000 independent samples and gives an interval about sqrt(10) times too narrow.
    labels, probabilities = _separable_set(100, seed=5)
    labels, probabilities = np.repeat(labels, 10), np.repeat(probabilities, 10)
    copies_of = np.repeat(np.arange(100), 10)
    by_crop = metrics.bootstrap_intervals(labels, probabilities, resamples=300, seed=1)["roc_auc"]
    by_group = metrics.bootstrap_intervals(labels, probabilities, groups=copies_of, resamples=300, seed=1)["roc_auc"]
    assert (by_group["high"] - by_group["low"]) > 2 * (by_crop["high"] - by_crop["low"])


def test_bootstrap_of_tiny_sets_counts_the_resamples_where_a_metric_exists():
    intervals = metrics.bootstrap_intervals(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), resamples=200, seed=0)
    assert 0 < intervals["roc_auc"]["resamples"] < 200  # some resamples hold one class only
    assert intervals["log_loss"]["resamples"] == 200
    assert metrics.bootstrap_intervals(np.array([1, 1]), np.array([0.6, 0.9]), resamples=20)["roc_auc"] is None
