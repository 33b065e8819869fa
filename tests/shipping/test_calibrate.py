"""Temperature and Platt scaling, the threshold rule and the calibration/report halves, on synthetic probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from detector.evaluation import metrics
from detector.models import calibration
from detector.shipping import calibrate


def synthetic(count: int, temperature: float, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated logits, and probabilities whose logits are ``temperature`` times those plus
    ``shift`` (a model that leans towards "fake" when the shift is positive)."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0.0, 2.0, count)
    labels = (rng.random(count) < special.expit(true_logits)).astype(np.int32)
    return labels, special.expit(true_logits * temperature + shift)


def test_temperature_divides_the_logits():
    probabilities = special.expit(np.array([-6.0, -1.0, 0.0, 2.0, 4.0]))
    np.testing.assert_allclose(calibration.rescale(probabilities, 2.0), special.expit([-3.0, -0.5, 0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(calibration.rescale(probabilities, 1.0), probabilities)
    # Saturated outputs stay finite: probabilities are clipped to [1e-7, 1 - 1e-7], logits to about +-16.12.
    edge = special.logit(1e-7)
    np.testing.assert_allclose(calibration.rescale(np.array([0.0, 1.0]), 2.0), special.expit([edge / 2, -edge / 2]))
    with pytest.raises(ValueError):
        calibration.rescale(probabilities, 0.0)
    np.testing.assert_allclose(
        calibration.rescale(probabilities, 2.0, bias=-0.5), special.expit([-3.5, -1.0, -0.5, 0.5, 1.5])
    )
    with pytest.raises(ValueError, match="bias"):
        calibration.rescale(probabilities, 1.0, bias=np.nan)


@pytest.mark.parametrize(("temperature", "shift"), [(0.5, 1.0), (2.0, -1.5), (1.0, 0.0)])
def test_platt_fitting_recovers_a_known_temperature_and_bias(temperature, shift):
    labels, probabilities = synthetic(50_000, temperature, seed=5, shift=shift)
    # logit(p) = true * T + shift, so logit(p) / T - shift / T gives back the true logits.
    fitted_temperature, bias = calibrate.fit_platt(labels, probabilities)
    assert fitted_temperature == pytest.approx(temperature, rel=0.05)
    assert bias == pytest.approx(-shift / temperature, abs=0.05)


def test_platt_removes_a_lean_that_temperature_scaling_cannot():
    labels, probabilities = synthetic(20_000, 1.0, seed=6, shift=1.0)
    by_temperature = calibration.rescale(probabilities, calibrate.fit_temperature(labels, probabilities))
    by_platt = calibration.rescale(probabilities, *calibrate.fit_platt(labels, probabilities))
    ece = [metrics.expected_calibration_error(labels, scaled) for scaled in (by_temperature, by_platt)]
    assert ece[1] < 0.02 < 0.05 < ece[0]
    assert metrics.classification_metrics(labels, by_platt)["roc_auc"] == pytest.approx(
        metrics.classification_metrics(labels, probabilities)["roc_auc"]
    )


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_fitting_recovers_a_known_temperature(temperature):
    labels, probabilities = synthetic(50_000, temperature)
    assert calibrate.fit_temperature(labels, probabilities) == pytest.approx(temperature, rel=0.05)


def test_fitting_lowers_log_loss_and_ece_of_overconfident_probabilities():
    labels, probabilities = synthetic(20_000, 3.0, seed=1)
    fitted = calibration.rescale(probabilities, calibrate.fit_temperature(labels, probabilities))
    before, after = (
        metrics.classification_metrics(labels, probabilities),
        metrics.classification_metrics(labels, fitted),
    )
    assert after["log_loss"] < before["log_loss"] - 0.1
    assert after["expected_calibration_error"] < 0.02 < 0.1 < before["expected_calibration_error"]
    assert after["roc_auc"] == pytest.approx(before["roc_auc"])  # the ranking is unchanged


def test_fitting_needs_both_classes():
    with pytest.raises(ValueError, match="both"):
        calibrate.fit_temperature(np.ones(10), np.full(10, 0.7))


def test_thresholds_follow_their_rule():
    labels, probabilities = synthetic(5_000, 1.0, seed=2)
    target = 0.9
    choice = calibrate.choose_thresholds(labels, probabilities, target)
    _, equal_error_threshold = metrics.equal_error_rate(labels, probabilities)
    assert choice.equal_error_threshold == equal_error_threshold
    assert choice.uncertain_low <= equal_error_threshold <= choice.fake
    assert choice.fake_target_met and choice.real_target_met
    called_fake, called_real = probabilities >= choice.fake, probabilities < choice.uncertain_low
    assert labels[called_fake].mean() >= target
    assert 1 - labels[called_real].mean() >= target
    # Each side is as narrow as the target allows: one observed value further and its precision drops below.
    values = np.unique(probabilities)
    below_fake = values[np.searchsorted(values, choice.fake) - 1]
    assert labels[probabilities >= below_fake].mean() < target
    above_low = values[np.searchsorted(values, choice.uncertain_low) + 1]
    assert 1 - labels[probabilities < above_low].mean() < target
    # With calibrated probabilities and 90 % precision, the band holds the probabilities of roughly 0.2-0.8.
    assert choice.fake == pytest.approx(0.8, abs=0.1) and choice.uncertain_low == pytest.approx(0.2, abs=0.1)


def test_thresholds_stay_at_the_eer_point_when_no_side_reaches_the_target():
    rng = np.random.default_rng(3)
    labels, probabilities = rng.integers(0, 2, 2000), rng.random(2000)
    choice = calibrate.choose_thresholds(labels, probabilities, 0.9)
    assert not (choice.fake_target_met or choice.real_target_met)
    assert choice.fake == choice.uncertain_low == choice.equal_error_threshold


def test_a_side_that_misses_the_target_stays_at_the_eer_point_while_the_other_moves():
    # Above 0.7 every crop is fake; below it half are: FAKE calls can be 90 % right, REAL calls never.
    rng = np.random.default_rng(4)
    probabilities = rng.random(4000)
    labels = np.where(probabilities > 0.7, 1, rng.integers(0, 2, 4000))
    choice = calibrate.choose_thresholds(labels, probabilities, 0.9)
    assert choice.fake_target_met and not choice.real_target_met
    assert choice.uncertain_low == choice.equal_error_threshold < choice.fake
    # The same data upside down: now only the REAL side moves.
    mirrored = calibrate.choose_thresholds(1 - labels, 1 - probabilities, 0.9)
    assert mirrored.real_target_met and not mirrored.fake_target_met
    assert mirrored.uncertain_low < mirrored.equal_error_threshold == mirrored.fake


def test_thresholds_need_enough_calls_on_each_side():
    # Only the single highest crop is a sure fake: 1 call is fewer than MIN_CALLS, so it cannot set the threshold.
    labels = np.array([0, 1] * 20 + [1])
    probabilities = np.concatenate([np.full(40, 0.5), [0.99]])
    choice = calibrate.choose_thresholds(labels, probabilities, 0.9, min_calls=10)
    assert not choice.fake_target_met
    assert calibrate.choose_thresholds(labels, probabilities, 0.9, min_calls=1).fake == pytest.approx(0.99)


def test_halves_are_stable_and_about_even():
    groups = [f"video{i}.mp4" for i in range(2000)]
    first = [calibrate.in_calibration_half(group) for group in groups]
    assert first == [calibrate.in_calibration_half(group) for group in groups]
    assert 0.45 < np.mean(first) < 0.55


@pytest.mark.parametrize("method", ["temperature", "platt"])
def test_fit_on_validation_fits_on_one_half_and_reports_on_the_other(method):
    labels, raw = synthetic(4_000, 2.0, seed=4, shift=0.5)
    groups = [f"g{i // 2}" for i in range(labels.size)]  # pairs share a group, as a fake and its source do
    fitted = calibrate.fit_on_validation(labels, raw, groups, "synthetic crops", resamples=50, method=method)
    in_half = np.array([calibrate.in_calibration_half(group) for group in groups])
    split = fitted.metrics["validation_split"]
    assert (split["calibration_count"], split["report_count"]) == (int(in_half.sum()), int((~in_half).sum()))
    # The calibration is the one fitted on the calibration half alone, the metrics those of the report half.
    expected_fit = {
        "temperature": lambda: (calibrate.fit_temperature(labels[in_half], raw[in_half]), 0.0),
        "platt": lambda: calibrate.fit_platt(labels[in_half], raw[in_half]),
    }[method]()
    assert fitted.calibration.method == method
    assert (fitted.calibration.temperature, fitted.calibration.bias) == pytest.approx(expected_fit)
    assert fitted.calibration.fitted_count == split["calibration_count"]
    assert calibration.describe(fitted.calibration) in fitted.metrics["validation"]["probabilities"]
    report = calibration.apply(raw[~in_half], fitted.calibration)
    expected = metrics.classification_metrics(labels[~in_half], report, fitted.thresholds.fake)
    validation = fitted.metrics["validation"]
    assert validation["count"] == split["report_count"]
    assert validation["log_loss"] == pytest.approx(expected["log_loss"])
    assert fitted.calibration.log_loss_after == pytest.approx(expected["log_loss"])
    assert fitted.calibration.log_loss_before > fitted.calibration.log_loss_after
    assert fitted.calibration.ece_before > fitted.calibration.ece_after
    decisions = fitted.metrics["decisions"]
    rates = metrics.decision_rates(labels[~in_half], report, fitted.thresholds.fake, fitted.thresholds.uncertain_low)
    assert decisions["false_positive_rate"] == pytest.approx(rates["false_positive_rate"])
    assert decisions["false_negative_rate"] == pytest.approx(rates["false_negative_rate"])
    assert "calibration half" in fitted.thresholds.chosen_on and "equal-error-rate" in fitted.thresholds.chosen_on
    low, high = fitted.metrics["validation_intervals"]["roc_auc"]
    assert low <= validation["roc_auc"] <= high


def test_too_little_validation_data_fits_nothing_and_measures_all_of_it():
    labels, raw = synthetic(30, 2.0, seed=5)
    fitted = calibrate.fit_on_validation(labels, raw, [str(i) for i in range(30)], "a few crops", resamples=20)
    assert fitted.calibration is None
    assert fitted.thresholds.fake == 0.5 and "too few" in fitted.thresholds.chosen_on
    assert fitted.metrics["validation"]["count"] == 30
    assert "nothing was fitted" in fitted.metrics["validation"]["data"]


def test_weights_count_a_crop_as_often_as_its_weight():
    labels, probabilities = synthetic(3_000, 1.7, seed=8, shift=0.4)
    weights = np.where(np.arange(labels.size) % 3 == 0, 2.0, 1.0)
    doubled_labels = np.concatenate([labels, labels[weights == 2]])
    doubled = np.concatenate([probabilities, probabilities[weights == 2]])
    assert calibrate.fit_platt(labels, probabilities, weights) == pytest.approx(
        calibrate.fit_platt(doubled_labels, doubled), rel=1e-3
    )
    weighted = calibrate.choose_thresholds(labels, probabilities, weights=weights)
    repeated = calibrate.choose_thresholds(doubled_labels, doubled)
    assert (weighted.fake, weighted.uncertain_low) == (repeated.fake, repeated.uncertain_low)
    with pytest.raises(ValueError, match="weights"):
        calibrate.fit_platt(labels, probabilities, -weights)


def test_source_weights_make_sources_labels_and_kinds_weigh_alike():
    labels = np.array([0] * 6 + [1] * 2 + [0] * 2 + [1] * 3 + [1] * 1)
    kinds = ["real"] * 6 + ["fake"] * 2 + ["real"] * 2 + ["Deepfakes"] * 3 + ["Face2Face"]
    sources = ["dfdc"] * 8 + ["ffpp"] * 6
    weights = calibrate.source_weights(labels, kinds, sources)
    assert weights.mean() == pytest.approx(1.0)
    total = weights.sum()
    assert weights[:6].sum() == pytest.approx(total / 4) == pytest.approx(weights[6:8].sum())
    assert weights[8:10].sum() == pytest.approx(total / 4)
    assert weights[10:13].sum() == pytest.approx(total / 8) == pytest.approx(weights[13])


def test_a_fit_on_several_sources_weighs_them_alike_and_reports_each_on_its_own_report_half():
    # DFDC: a model calibrated but for a lean; FF++: the same model far over-confident and leaning the other way.
    labels, raw = synthetic(4_000, 1.0, seed=9, shift=0.3)
    groups = [f"d{i // 2}" for i in range(labels.size)]
    other_labels, other_raw = synthetic(1_600, 4.0, seed=10, shift=-1.0)
    other_groups = [f"f{i // 20}" for i in range(other_labels.size)]
    kinds = np.where(other_labels == 1, np.where(np.arange(other_labels.size) % 2, "Deepfakes", "Face2Face"), "real")
    other = calibrate.SourceScores("ffpp", "synthetic FF++", other_labels, other_raw, other_groups, kinds.tolist())
    alone = calibrate.fit_on_validation(labels, raw, groups, "synthetic DFDC", resamples=20)
    both = calibrate.fit_on_validation(labels, raw, groups, "synthetic DFDC", resamples=20, others=[other])
    assert alone.calibration.sources == ("dfdc",) and both.calibration.sources == ("dfdc", "ffpp")
    # The over-confident source pulls the temperature up; DFDC's ranking is untouched.
    assert both.calibration.temperature > alone.calibration.temperature
    assert both.metrics["validation"]["roc_auc"] == pytest.approx(alone.metrics["validation"]["roc_auc"])
    assert "ffpp" in both.calibration.fitted_on.lower() or "FF++" in both.calibration.fitted_on
    in_half = np.array([calibrate.in_calibration_half(group) for group in other_groups])
    figures = both.metrics["calibration_sources"]
    assert figures["ffpp"]["count"] == int((~in_half).sum())
    assert figures["ffpp"]["ece_after"] < figures["ffpp"]["ece_before"]
    assert figures["dfdc"]["count"] == both.metrics["validation"]["count"]
    assert "calibration_sources" not in alone.metrics
    assert "weighted alike" in both.thresholds.chosen_on
    few = calibrate.SourceScores("ffpp", "too few", other_labels[:30], other_raw[:30], other_groups[:30], kinds[:30])
    with pytest.raises(ValueError, match="too few ffpp"):
        calibrate.fit_on_validation(labels, raw, groups, "synthetic DFDC", resamples=20, others=[few])
