"""Calibration and decision thresholds, fitted on validation data and written into the model card.

The group-split validation set is cut in two halves by a second stable hash of the group (the source video):
the **calibration half** fits the calibration and chooses the thresholds, the **report half** measures the
result. No number in the card's metrics comes from data the calibration or the thresholds were fitted on.

Calibration: ``calibrated = sigmoid(logit(p) / T + b)``. Temperature scaling fits T alone (b = 0); Platt
scaling (the default) fits both, minimising the log loss on the calibration half. Both keep the ranking, so
ROC AUC and the EER are the same before and after; only Platt can undo a model's lean towards one class, which
fine-tuning with a different class mix leaves (docs/DESIGN.md, "Platt scaling").

Threshold rule (``choose_thresholds``), on calibrated probabilities:

1. Start from the **equal-error-rate point**: the threshold where the share of reals called fake equals the
   share of fakes called real. It depends on neither the class mix nor a cost ratio we do not know, and it is
   the crossing of two monotone curves, so it moves less between samples than the arg-max of balanced accuracy
   (a flat curve near its top). On calibrated, balanced data it lies near 0.5.
2. Widen it into the "inconclusive" band ``[uncertain_low, fake)``: ``fake`` rises to the lowest threshold at
   which at least ``target_precision`` of the FAKE calls are right, ``uncertain_low`` falls to the highest at
   which at least ``target_precision`` of the REAL calls are right, each side keeping at least ``min_calls``
   calls (so that one lucky crop does not set it). Where a side never reaches the target it stays at the EER
   point, and the card says so. Precision depends on the class mix: it is measured at the validation set's
   (about half fake), which is stated in ``chosen_on``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from detector.evaluation import metrics
from detector.models import model_card
from detector.models.calibration import describe, logits, rescale
from detector.models.model_card import DEFAULT_CALIBRATION_METHOD as DEFAULT_METHOD
from detector.training.datasets import in_calibration_half
from detector.training.sources import REAL, balanced_weights

logger = logging.getLogger(__name__)

TEMPERATURE_BOUNDS = (0.05, 20.0)
BIAS_BOUNDS = (-10.0, 10.0)
TARGET_PRECISION = 0.9
MIN_CALLS = 10
# Below this many crops of each class in each half, the fit is not worth trusting: nothing is fitted.
MIN_PER_CLASS = 10


def _log_loss(labels: np.ndarray, scaled_logits: np.ndarray, weights: np.ndarray | None = None) -> float:
    # log(1 + e^-z) for fakes, log(1 + e^z) for reals, without overflow; a weighted mean when weights are given.
    signs = np.where(labels == 1, -1.0, 1.0)
    return float(np.average(np.logaddexp(0.0, signs * scaled_logits), weights=weights))


def _checked_weights(weights: np.ndarray | None, count: int) -> np.ndarray | None:
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if weights.shape != (count,) or not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"weights must be {count} finite, non-negative numbers with a positive sum")
    return weights


def fit_temperature(
    labels: np.ndarray,
    probabilities: np.ndarray,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    weights: np.ndarray | None = None,
) -> float:
    """The temperature in ``bounds`` that minimises the (``weights``-weighted) log loss of
    ``rescale(probabilities, T)``.

    Searched over log T with bounded Brent (``scipy.optimize.minimize_scalar``): the loss is convex in 1 / T, so
    it has one minimum in log T. Needs both classes (with one, the loss falls forever towards a bound).
    """
    labels = np.asarray(labels, dtype=np.int32).ravel()
    raw_logits = logits(probabilities).ravel()
    if labels.shape != raw_logits.shape:
        raise ValueError(f"labels and probabilities differ in length: {labels.shape} vs {raw_logits.shape}")
    if len(np.unique(labels)) != 2:
        raise ValueError("fitting a temperature needs both real and fake samples")
    low, high = bounds
    if not 0 < low < 1 < high:
        raise ValueError(f"temperature bounds must satisfy 0 < low < 1 < high, got {bounds}")
    weights = _checked_weights(weights, labels.size)
    result = optimize.minimize_scalar(
        lambda log_temperature: _log_loss(labels, raw_logits / np.exp(log_temperature), weights),
        bounds=(np.log(low), np.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


def fit_platt(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """The temperature and bias that minimise the (``weights``-weighted) log loss of ``rescale(probabilities, T,
    b)`` (Platt scaling).

    A two-parameter logistic regression on the logit, solved with L-BFGS from the best temperature and no bias;
    the temperature is kept within ``TEMPERATURE_BOUNDS`` and the bias within ``BIAS_BOUNDS``.
    """
    labels = np.asarray(labels, dtype=np.int32).ravel()
    raw_logits = logits(probabilities).ravel()
    start = fit_temperature(labels, probabilities, weights=weights)  # checks lengths, both classes and weights
    weights = _checked_weights(weights, labels.size)
    result = optimize.minimize(
        lambda parameters: _log_loss(labels, raw_logits / np.exp(parameters[0]) + parameters[1], weights),
        x0=np.array([np.log(start), 0.0]),
        method="L-BFGS-B",
        bounds=[tuple(np.log(TEMPERATURE_BOUNDS)), BIAS_BOUNDS],
    )
    temperature, bias = float(np.exp(result.x[0])), float(result.x[1])
    if not result.success:
        raise ValueError(f"Platt scaling did not converge: {result.message}")
    if np.isclose(temperature, TEMPERATURE_BOUNDS).any() or np.isclose(bias, BIAS_BOUNDS).any():
        logger.warning(
            "Platt scaling stopped at a bound (temperature %.3f, bias %.3f): check the model", temperature, bias
        )
    return temperature, bias


@dataclass(frozen=True)
class ThresholdChoice:
    """The thresholds ``choose_thresholds`` found, and whether each side reached the precision target."""

    fake: float
    uncertain_low: float
    equal_error_threshold: float
    fake_target_met: bool
    real_target_met: bool


def choose_thresholds(
    labels: np.ndarray,
    probabilities: np.ndarray,
    target_precision: float = TARGET_PRECISION,
    min_calls: int = MIN_CALLS,
    weights: np.ndarray | None = None,
) -> ThresholdChoice:
    """The fake threshold and "inconclusive" band by the module's rule (see the module docstring).

    ``probability >= fake`` reads FAKE, ``probability < uncertain_low`` reads REAL. Thresholds are observed
    probabilities, so the precisions they promise are the ones measured on these samples. With ``weights``, the
    error rates and precisions count each crop by its weight (``min_calls`` still counts crops).
    """
    labels, probabilities = metrics.validated_arrays(labels, probabilities)
    if not 0.0 < target_precision < 1.0:
        raise ValueError(f"target_precision must be in (0, 1), got {target_precision}")
    weights = _checked_weights(weights, labels.size)
    _, equal_error_threshold = metrics.equal_error_rate(labels, probabilities, weights)
    values, inverse = np.unique(probabilities, return_inverse=True)
    crop_weights = np.ones(labels.size) if weights is None else weights
    fakes_at = np.bincount(inverse, weights=labels * crop_weights, minlength=len(values))
    weight_at = np.bincount(inverse, weights=crop_weights, minlength=len(values))
    count_at = np.bincount(inverse, minlength=len(values)).astype(np.float64)
    # Calling FAKE at values[j] calls everything from j up; calling REAL below values[j] everything before j.
    fakes_from = np.cumsum(fakes_at[::-1])[::-1]
    weight_from = np.cumsum(weight_at[::-1])[::-1]
    calls_from = np.cumsum(count_at[::-1])[::-1]
    reals_before = np.concatenate([[0.0], np.cumsum(weight_at - fakes_at)[:-1]])
    weight_before = np.concatenate([[0.0], np.cumsum(weight_at)[:-1]])
    calls_before = np.concatenate([[0.0], np.cumsum(count_at)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision_fake = np.where(weight_from > 0, fakes_from / weight_from, 0.0)
        precision_real = np.where(weight_before > 0, reals_before / weight_before, 0.0)

    fake_ok = (values >= equal_error_threshold) & (precision_fake >= target_precision) & (calls_from >= min_calls)
    real_ok = (values <= equal_error_threshold) & (precision_real >= target_precision) & (calls_before >= min_calls)
    fake = float(values[np.argmax(fake_ok)]) if fake_ok.any() else equal_error_threshold
    uncertain_low = (
        float(values[len(values) - 1 - np.argmax(real_ok[::-1])]) if real_ok.any() else equal_error_threshold
    )
    return ThresholdChoice(
        fake=fake,
        uncertain_low=min(uncertain_low, fake),
        equal_error_threshold=equal_error_threshold,
        fake_target_met=bool(fake_ok.any()),
        real_target_met=bool(real_ok.any()),
    )


@dataclass(frozen=True)
class CalibrationFit:
    """What ``fit_on_validation`` gives the model card."""

    calibration: model_card.Calibration | None
    thresholds: model_card.Thresholds
    metrics: dict[str, Any]


def _both_classes_enough(labels: np.ndarray) -> bool:
    return int(labels.sum()) >= MIN_PER_CLASS and int(labels.size - labels.sum()) >= MIN_PER_CLASS


def choice_text(
    choice: ThresholdChoice,
    target_precision: float,
    count: int,
    fake_share: float,
    probabilities: str = "calibrated probabilities",
    where: str = "calibration half of the group-split validation set",
) -> str:
    """How ``choice`` was made, in words for the card's ``thresholds.chosen_on``."""
    text = (
        f"{where} ({count} crops, {fake_share:.0%} fake), "
        f"{probabilities}: equal-error-rate point {choice.equal_error_threshold:.3f}; "
    )
    if choice.fake_target_met:
        text += f"fake raised to the lowest threshold where >= {target_precision:.0%} of FAKE calls are right; "
    else:
        text += f"no threshold gave {target_precision:.0%} right FAKE calls, so fake stays at the EER point; "
    if choice.real_target_met:
        text += f"uncertain_low lowered to the highest where >= {target_precision:.0%} of REAL calls are right"
    else:
        text += f"no threshold gave {target_precision:.0%} right REAL calls, so uncertain_low stays at the EER point"
    return text


@dataclass(frozen=True)
class SourceScores:
    """Another source's validation crops for a calibration fitted on several (``fit_on_validation``'s ``others``):
    its card name (``"ffpp"``), its data in words, and per crop the label (1 = fake), the model's raw output, the
    group (halved by ``in_calibration_half`` as DFDC's are) and the kind (``"real"`` or the fake's method)."""

    name: str
    data: str
    labels: np.ndarray
    raw: np.ndarray
    groups: Sequence[str]
    kinds: Sequence[str]


def source_weights(labels: np.ndarray, kinds: Sequence[str], sources: Sequence[str]) -> np.ndarray:
    """Each crop's weight in a fit on several sources: every source weighs the same, its reals as much as its
    fakes, and its fakes' kinds alike; the mean weight is 1 (``sources.balanced_weights``, as a mixed run's
    selection loss weighs them)."""
    keys = [
        (source, REAL if label == 0 else kind)
        for label, kind, source in zip(np.asarray(labels).tolist(), kinds, sources, strict=True)
    ]
    per_crop = balanced_weights(dict(Counter(keys)))
    return np.array([per_crop[key] for key in keys])


def _report_figures(labels: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, thresholds) -> dict[str, Any]:
    """A source's report half before and after the calibration, and how its crops are called."""
    return {
        "count": int(labels.size),
        "count_fake": int(labels.sum()),
        "ece_before": metrics.expected_calibration_error(labels, raw),
        "ece_after": metrics.expected_calibration_error(labels, calibrated),
        "log_loss_before": metrics.classification_metrics(labels, raw)["log_loss"],
        "log_loss_after": metrics.classification_metrics(labels, calibrated)["log_loss"],
        "decisions": metrics.decision_rates(labels, calibrated, thresholds.fake, thresholds.uncertain_low),
    }


def fit_on_validation(
    labels: np.ndarray,
    raw_probabilities: np.ndarray,
    groups: Sequence[str],
    data: str,
    target_precision: float = TARGET_PRECISION,
    resamples: int = 1000,
    seed: int = 0,
    method: str = DEFAULT_METHOD,
    others: Sequence[SourceScores] = (),
) -> CalibrationFit:
    """Fits the calibration (``method``: "temperature" or "platt") and thresholds on the calibration half and
    measures them on the report half.

    ``labels`` ``(N,)`` (1 = fake), ``raw_probabilities`` ``(N,)`` the model's uncalibrated outputs, ``groups``
    the source video of each crop, ``data`` a description of the validation set. When a half holds fewer than
    ``MIN_PER_CLASS`` crops of either class, nothing is fitted (identity calibration, default thresholds) and the
    whole validation set, untouched by any fit, is measured; the card says so.

    With ``others`` (a fit on several sources), the calibration and the thresholds are fitted on the calibration
    half of every source together, weighted by ``source_weights``; the card's validation figures stay DFDC's report
    half, and ``metrics["calibration_sources"]`` gives each source's report half before and after.
    """
    if method not in model_card.CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {model_card.CALIBRATION_METHODS}, got {method!r}")
    labels = np.asarray(labels, dtype=np.int32).ravel()
    raw = np.asarray(raw_probabilities, dtype=np.float64).ravel()
    groups = list(groups)
    if not (labels.size == raw.size == len(groups)):
        raise ValueError("labels, probabilities and groups must have the same length")
    calibration_mask = np.array([in_calibration_half(group) for group in groups], dtype=bool)
    split = {
        "rule": "validation groups whose SHA-1 of 'calibration-half:' + group is even fit the calibration and the "
        "thresholds; the other groups (the report half) measure them",
        "calibration_count": int(calibration_mask.sum()),
        "calibration_count_fake": int(labels[calibration_mask].sum()),
        "report_count": int((~calibration_mask).sum()),
        "report_count_fake": int(labels[~calibration_mask].sum()),
    }
    other_masks = []
    for other in others:
        other_labels = np.asarray(other.labels, dtype=np.int32).ravel()
        if not (other_labels.size == np.asarray(other.raw).size == len(other.groups) == len(other.kinds)):
            raise ValueError(f"{other.name}: labels, probabilities, groups and kinds must have the same length")
        mask = np.array([in_calibration_half(group) for group in other.groups], dtype=bool)
        if not (_both_classes_enough(other_labels[mask]) and _both_classes_enough(other_labels[~mask])):
            raise ValueError(f"too few {other.name} validation crops in a half to fit a calibration on it")
        other_masks.append(mask)
        split[f"{other.name}_calibration_count"] = int(mask.sum())
        split[f"{other.name}_report_count"] = int((~mask).sum())
    if not (_both_classes_enough(labels[calibration_mask]) and _both_classes_enough(labels[~calibration_mask])):
        if others:
            raise ValueError("too few DFDC validation crops in a half to fit a calibration on several sources")
        logger.warning("too few validation crops to fit calibration and thresholds (%s): left at defaults", split)
        calibration = None
        thresholds = model_card.Thresholds(
            chosen_on=f"default 0.5: too few validation crops to choose from (fewer than {MIN_PER_CLASS} of a "
            "class in a half)"
        )
        report_mask = np.ones(labels.size, dtype=bool)
        report_probabilities = raw
        measured_on = f"{data}, all of it (nothing was fitted on it)"
        probabilities_note = "raw model outputs (no calibration fitted)"
        source_figures = {}
    else:
        report_mask = ~calibration_mask
        names = ["dfdc", *(other.name for other in others)]
        paired = list(zip(others, other_masks, strict=True))
        fit_labels = np.concatenate([labels[calibration_mask], *(np.asarray(o.labels)[m] for o, m in paired)]).astype(
            np.int32
        )
        fit_raw = np.concatenate([raw[calibration_mask], *(np.asarray(o.raw, np.float64)[m] for o, m in paired)])
        weights = None
        fitted_on = f"{data}, calibration half"
        where = "calibration half of the group-split validation set"
        if others:
            fit_sources = np.repeat(names, [int(calibration_mask.sum()), *(int(m.sum()) for m in other_masks)])
            fit_kinds = np.concatenate(
                [
                    np.where(labels[calibration_mask] == 1, "fake", "real"),
                    *(np.asarray(o.kinds, dtype=object)[m] for o, m in paired),
                ]
            )
            weights = source_weights(fit_labels, fit_kinds, fit_sources)
            fitted_on = (
                "; ".join([fitted_on, *(f"{o.data}, calibration half" for o in others)])
                + " (every source weighs the same, its reals as much as its fakes, and its kinds of fake alike)"
            )
            where = "calibration halves of " + " and ".join(names) + "'s validation groups, weighted alike"
        temperature, bias = (
            fit_platt(fit_labels, fit_raw, weights)
            if method == "platt"
            else (fit_temperature(fit_labels, fit_raw, weights=weights), 0.0)
        )
        choice = choose_thresholds(fit_labels, rescale(fit_raw, temperature, bias), target_precision, weights=weights)
        report_probabilities = rescale(raw[report_mask], temperature, bias)
        report_labels = labels[report_mask]
        measured_on = f"{data}, report half (groups not used for any fit)"
        fit_share = float(np.average(fit_labels, weights=weights))
        calibration = model_card.Calibration(
            temperature=temperature,
            bias=bias,
            method=method,
            fitted_on=fitted_on,
            fitted_count=int(fit_labels.size),
            measured_on=measured_on,
            log_loss_before=metrics.classification_metrics(report_labels, raw[report_mask])["log_loss"],
            log_loss_after=metrics.classification_metrics(report_labels, report_probabilities)["log_loss"],
            ece_before=metrics.expected_calibration_error(report_labels, raw[report_mask]),
            ece_after=metrics.expected_calibration_error(report_labels, report_probabilities),
            sources=tuple(names),
        )
        thresholds = model_card.Thresholds(
            fake=choice.fake,
            uncertain_low=choice.uncertain_low,
            chosen_on=choice_text(choice, target_precision, int(fit_labels.size), fit_share, where=where),
        )
        probabilities_note = f"calibrated ({describe(calibration)})"
        logger.info("calibration: %s; thresholds: %s", calibration, thresholds)
        source_figures = {"dfdc": _report_figures(report_labels, raw[report_mask], report_probabilities, thresholds)}
        for other, mask in paired:
            other_labels = np.asarray(other.labels, np.int32)[~mask]
            other_raw = np.asarray(other.raw, np.float64)[~mask]
            source_figures[other.name] = {
                "data": f"{other.data}, report half (groups not used for any fit)",
                **_report_figures(other_labels, other_raw, rescale(other_raw, temperature, bias), thresholds),
            }

    report_labels = labels[report_mask]
    report_groups = np.asarray(groups, dtype=object)[report_mask]
    measured = metrics.classification_metrics(report_labels, report_probabilities, thresholds.fake)
    intervals = metrics.bootstrap_intervals(
        report_labels, report_probabilities, thresholds.fake, report_groups, resamples, seed
    )
    context = {"data": measured_on, "measured_by": "detector.shipping.calibrate.fit_on_validation (scikit-learn)"}
    return CalibrationFit(
        calibration=calibration,
        thresholds=thresholds,
        metrics={
            "validation": {**measured, "probabilities": probabilities_note, **context},
            "validation_intervals": {
                "method": f"percentile bootstrap, {resamples} resamples of whole groups, seed {seed}, 95%",
                "threshold": thresholds.fake,
                **{
                    name: None if interval is None else [round(interval["low"], 4), round(interval["high"], 4)]
                    for name, interval in intervals.items()
                },
            },
            "decisions": {
                **metrics.decision_rates(
                    report_labels, report_probabilities, thresholds.fake, thresholds.uncertain_low
                ),
                **context,
            },
            "validation_split": split,
            **({"calibration_sources": source_figures} if others else {}),
        },
    )
