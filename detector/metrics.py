"""Classification metrics over fake probabilities (scikit-learn underneath).

Labels are 1 for fake, 0 for real; probabilities are of "fake". Every number in a model card comes from here.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk_metrics


def classification_metrics(
    labels: np.ndarray, fake_probabilities: np.ndarray, threshold: float = 0.5
) -> dict[str, float | int | None]:
    """ROC AUC, log loss, accuracy and balanced accuracy at ``threshold``, with the counts they rest on.

    ``roc_auc`` is None when only one class is present (it is undefined then).
    """
    labels = np.asarray(labels, dtype=np.int32).ravel()
    probabilities = np.asarray(fake_probabilities, dtype=np.float64).ravel()
    if labels.shape != probabilities.shape:
        raise ValueError(f"labels and probabilities differ in length: {labels.shape} vs {probabilities.shape}")
    if labels.size == 0:
        raise ValueError("no samples to measure")
    if np.any((probabilities < 0) | (probabilities > 1)) or np.any(np.isnan(probabilities)):
        raise ValueError("probabilities must be in [0, 1]")
    predictions = (probabilities >= threshold).astype(np.int32)
    both_classes = len(np.unique(labels)) == 2
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(sk_metrics.roc_auc_score(labels, probabilities)) if both_classes else None,
        "log_loss": float(sk_metrics.log_loss(labels, clipped, labels=[0, 1])),
        "accuracy": float(sk_metrics.accuracy_score(labels, predictions)),
        "balanced_accuracy": float(sk_metrics.balanced_accuracy_score(labels, predictions)) if both_classes else None,
        "threshold": float(threshold),
        "count": int(labels.size),
        "count_fake": int(labels.sum()),
        "count_real": int(labels.size - labels.sum()),
    }
