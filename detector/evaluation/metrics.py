"""Classification metrics over fake probabilities (scikit-learn underneath).

Labels are 1 for fake, 0 for real; probabilities are of "fake". Every number in a model card comes from here.
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn import metrics as sk_metrics

# Equal-width bins of the expected calibration error and the reliability diagram (Guo et al., 2017, use 15).
CALIBRATION_BINS = 15


def validated_arrays(labels: np.ndarray, fake_probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N,) int32`` labels and ``(N,) float64`` probabilities, or ``ValueError`` saying what is wrong."""
    labels = np.asarray(labels, dtype=np.int32).ravel()
    probabilities = np.asarray(fake_probabilities, dtype=np.float64).ravel()
    if labels.shape != probabilities.shape:
        raise ValueError(f"labels and probabilities differ in length: {labels.shape} vs {probabilities.shape}")
    if labels.size == 0:
        raise ValueError("no samples to measure")
    if np.any((probabilities < 0) | (probabilities > 1)) or np.any(np.isnan(probabilities)):
        raise ValueError("probabilities must be in [0, 1]")
    if np.any((labels != 0) & (labels != 1)):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    return labels, probabilities


def classification_metrics(
    labels: np.ndarray, fake_probabilities: np.ndarray, threshold: float = 0.5
) -> dict[str, float | int | None]:
    """ROC AUC, log loss, accuracy and balanced accuracy at ``threshold``, EER, average precision and ECE, with
    the counts they rest on.

    ``roc_auc``, ``balanced_accuracy``, ``equal_error_rate`` and ``average_precision`` are None when only one
    class is present (they are undefined then).
    """
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    predictions = (probabilities >= threshold).astype(np.int32)
    both_classes = len(np.unique(labels)) == 2
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    roc_auc = eer = average_precision = balanced_accuracy = None
    if both_classes:
        # One ROC curve serves both the AUC (the same trapezoids roc_auc_score sums) and the EER.
        curve = sk_metrics.roc_curve(labels, probabilities, drop_intermediate=False)
        roc_auc = float(sk_metrics.auc(curve[0], curve[1]))
        eer = _equal_error_rate_of_curve(*curve)[0]
        average_precision = float(sk_metrics.average_precision_score(labels, probabilities))
        balanced_accuracy = float(sk_metrics.balanced_accuracy_score(labels, predictions))
    return {
        "roc_auc": roc_auc,
        "log_loss": float(sk_metrics.log_loss(labels, clipped, labels=[0, 1])),
        "accuracy": float(sk_metrics.accuracy_score(labels, predictions)),
        "balanced_accuracy": balanced_accuracy,
        "equal_error_rate": eer,
        "average_precision": average_precision,
        "expected_calibration_error": expected_calibration_error(labels, probabilities),
        "threshold": float(threshold),
        "count": int(labels.size),
        "count_fake": int(labels.sum()),
        "count_real": int(labels.size - labels.sum()),
    }


def equal_error_rate(
    labels: np.ndarray, fake_probabilities: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[float, float]:
    """The equal error rate and the threshold nearest to it: ``(eer, threshold)``.

    The EER is where the false-positive rate (reals at or above the threshold) equals the false-negative rate
    (fakes below it), linearly interpolated between the two ROC points around the crossing. The threshold is the
    observed probability whose two rates are closest to each other; ``probability >= threshold`` reads fake.
    With ``sample_weight``, the rates count each sample by its weight. Needs both classes.
    """
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    if len(np.unique(labels)) != 2:
        raise ValueError("the equal error rate needs both real and fake samples")
    return _equal_error_rate_of_curve(
        *sk_metrics.roc_curve(labels, probabilities, sample_weight=sample_weight, drop_intermediate=False)
    )


def _equal_error_rate_of_curve(
    false_positive: np.ndarray, true_positive: np.ndarray, thresholds: np.ndarray
) -> tuple[float, float]:
    false_negative = 1.0 - true_positive
    difference = false_negative - false_positive  # Starts at 1 (nothing called fake) and ends at -1 or 0.
    crossing = int(np.argmax(difference <= 0))
    before = crossing - 1
    share = difference[before] / (difference[before] - difference[crossing])
    rate = false_positive[before] + share * (false_positive[crossing] - false_positive[before])
    # The first ROC point has an infinite threshold (nothing called fake): never offer it as a threshold.
    candidates = [index for index in (before, crossing) if np.isfinite(thresholds[index])]
    nearest = min(candidates, key=lambda index: abs(difference[index]))
    return float(rate), float(min(thresholds[nearest], 1.0))


def calibration_bins(
    labels: np.ndarray, fake_probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> dict[str, np.ndarray]:
    """Equal-width bins of the fake probability over [0, 1], as a reliability diagram shows them.

    Returns ``(bins,)`` arrays: ``count``, ``mean_probability`` and ``fake_fraction`` (NaN in empty bins), and
    ``(bins + 1,)`` ``edges``. A probability of exactly 1 falls in the last bin.
    """
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    index = np.minimum((probabilities * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.int64)
    probability_sum = np.bincount(index, weights=probabilities, minlength=bins)
    fake_sum = np.bincount(index, weights=labels.astype(np.float64), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_probability = np.where(count > 0, probability_sum / count, np.nan)
        fake_fraction = np.where(count > 0, fake_sum / count, np.nan)
    return {
        "edges": np.linspace(0.0, 1.0, bins + 1),
        "count": count,
        "mean_probability": mean_probability,
        "fake_fraction": fake_fraction,
    }


def expected_calibration_error(
    labels: np.ndarray, fake_probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE of the fake probability: the count-weighted mean over equal-width bins of
    ``|fraction of fakes in the bin - mean fake probability in the bin|``.

    0 for perfectly calibrated probabilities (given enough samples per bin); at most 1. This is the binary,
    positive-class form: it measures the same gaps the reliability diagram draws.
    """
    binned = calibration_bins(labels, fake_probabilities, bins)
    count = binned["count"]
    filled = count > 0
    gaps = np.abs(binned["fake_fraction"][filled] - binned["mean_probability"][filled])
    return float(np.sum(count[filled] * gaps) / count.sum())


def decision_rates(
    labels: np.ndarray,
    fake_probabilities: np.ndarray,
    fake_threshold: float,
    uncertain_low: float,
    abstain: np.ndarray | None = None,
) -> dict[str, float | int | None]:
    """What the three-way decision does: FAKE at or above ``fake_threshold``, "inconclusive" in
    ``[uncertain_low, fake_threshold)``, REAL below; a sample where ``abstain`` is True is inconclusive whatever
    its probability (a video the quality check could not judge).

    ``false_positive_rate``: share of reals called FAKE; ``false_negative_rate``: share of fakes called REAL (both
    over all of that class, "inconclusive" included in the denominator); ``uncertain_share``: share of all samples in
    the band; ``precision_fake`` / ``precision_real``: share of FAKE / REAL calls that are right (None without such
    calls). Precisions depend on the class mix of the data; the rates do not.
    """
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    if not 0.0 <= uncertain_low <= fake_threshold <= 1.0:
        raise ValueError(f"need 0 <= uncertain_low <= fake_threshold <= 1, got {uncertain_low}, {fake_threshold}")
    judged = np.ones(labels.shape, bool) if abstain is None else ~np.asarray(abstain, bool)
    called_fake = (probabilities >= fake_threshold) & judged
    called_real = (probabilities < uncertain_low) & judged
    fake = labels == 1
    real = ~fake

    def share(numerator: np.ndarray, denominator: np.ndarray) -> float | None:
        total = int(np.count_nonzero(denominator))
        return float(np.count_nonzero(numerator & denominator) / total) if total else None

    return {
        "fake_threshold": float(fake_threshold),
        "uncertain_low": float(uncertain_low),
        "false_positive_rate": share(called_fake, real),
        "false_negative_rate": share(called_real, fake),
        "uncertain_share": float(np.mean(~called_fake & ~called_real)),
        "uncertain_share_real": share(~called_fake & ~called_real, real),
        "uncertain_share_fake": share(~called_fake & ~called_real, fake),
        "precision_fake": share(fake, called_fake),
        "precision_real": share(real, called_real),
        "count": int(labels.size),
        "count_called_fake": int(np.count_nonzero(called_fake)),
        "count_called_real": int(np.count_nonzero(called_real)),
    }


# The metrics a bootstrap interval is given for: every number of ``classification_metrics`` that varies.
INTERVAL_METRICS = (
    "roc_auc",
    "log_loss",
    "accuracy",
    "balanced_accuracy",
    "equal_error_rate",
    "average_precision",
    "expected_calibration_error",
)


def group_members(groups: np.ndarray | list | tuple) -> tuple[np.ndarray, ...]:
    """The sample indices of each group, ``(k,) int64`` arrays, one per distinct group (in sorted group order)."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    boundaries = np.flatnonzero(np.diff(codes[order])) + 1
    return tuple(np.split(order, boundaries))


def resample_indices(members: tuple[np.ndarray, ...] | None, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of one bootstrap resample of ``count`` samples.

    Without ``members``, ``count`` samples drawn with replacement. With ``members`` (``group_members``), as many
    groups as there are drawn with replacement, each bringing all of its samples: samples of one group (a fake
    and the real video it was made from) are not independent, and resampling them one by one would make the
    interval too narrow.
    """
    if members is None:
        return rng.integers(0, count, count)
    drawn = rng.integers(0, len(members), len(members))
    return np.concatenate([members[group] for group in drawn])


def bootstrap_intervals(
    labels: np.ndarray,
    fake_probabilities: np.ndarray,
    threshold: float = 0.5,
    groups: np.ndarray | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, float | int] | None]:
    """Percentile bootstrap intervals of the ``classification_metrics`` in ``INTERVAL_METRICS``.

    Resamples samples, or whole groups when ``groups`` is given (see ``resample_indices``), ``resamples`` times
    with a generator seeded by ``seed`` (same inputs, same intervals). Each entry is ``{"low", "high",
    "resamples"}``, ``resamples`` counting the resamples where the metric was defined (a resample may hold one
    class only); None when it was defined in none.

    The ECE's interval lies mostly above its point estimate: resampling adds noise to every bin's two means,
    and noise only ever widens the gaps. Read it as the spread of the ECE at this sample size.
    """
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if groups is not None and len(groups) != labels.size:
        raise ValueError(f"groups and labels differ in length: {len(groups)} vs {labels.size}")
    rng = np.random.default_rng(seed)
    members = None if groups is None else group_members(groups)
    values: dict[str, list[float]] = {name: [] for name in INTERVAL_METRICS}
    # The inputs were checked once above; scikit-learn's checks of each resample would double the time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for _ in range(resamples):
            chosen = resample_indices(members, labels.size, rng)
            measured = classification_metrics(labels[chosen], probabilities[chosen], threshold)
            for name in INTERVAL_METRICS:
                if measured[name] is not None:
                    values[name].append(float(measured[name]))
    tail = 100 * (1 - confidence) / 2
    intervals: dict[str, dict[str, float | int] | None] = {}
    for name, found in values.items():
        if not found:
            intervals[name] = None
            continue
        low, high = np.percentile(found, [tail, 100 - tail])
        intervals[name] = {"low": float(low), "high": float(high), "resamples": len(found)}
    return intervals


def roc_points(labels: np.ndarray, fake_probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """The ROC curve: ``false_positive_rate``, ``true_positive_rate`` and ``threshold`` arrays of one length
    (the first threshold is infinite: nothing called fake). Needs both classes."""
    labels, probabilities = validated_arrays(labels, fake_probabilities)
    if len(np.unique(labels)) != 2:
        raise ValueError("a ROC curve needs both real and fake samples")
    false_positive, true_positive, thresholds = sk_metrics.roc_curve(labels, probabilities)
    return {"false_positive_rate": false_positive, "true_positive_rate": true_positive, "threshold": thresholds}
