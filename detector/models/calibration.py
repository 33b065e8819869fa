"""Applying a model's fitted calibration: ``calibrated = sigmoid(logit(p) / T + b)``.

What analysis needs to turn a model's raw output into the calibrated probability its card's thresholds were chosen
on. Fitting the calibration and choosing the thresholds is ``detector.shipping.calibrate``.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import special

from detector.models import model_card

logger = logging.getLogger(__name__)

# Probabilities are clipped here before taking logits: float32 sigmoid outputs saturate at 1 - 6e-8 anyway.
PROBABILITY_EPSILON = 1e-7


def describe(fitted: model_card.Calibration | None) -> str:
    """The calibration in a few words: "temperature 1.234" or "temperature 1.234, bias -0.210 (Platt)"."""
    if fitted is None:
        return "none fitted"
    if fitted.method == "platt":
        return f"temperature {fitted.temperature:.3f}, bias {fitted.bias:+.3f} (Platt)"
    return f"temperature {fitted.temperature:.3f}"


def logits(probabilities: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))``, ``(N,) float64``, with ``p`` clipped to ``[1e-7, 1 - 1e-7]`` (so at most ±16.1)."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return special.logit(clipped)


def rescale(probabilities: np.ndarray, temperature: float, bias: float = 0.0) -> np.ndarray:
    """``sigmoid(logit(p) / temperature + bias)``, ``(N,) float64``; temperature 1 and bias 0 return ``p``."""
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    if not np.isfinite(bias):
        raise ValueError(f"bias must be a finite number, got {bias}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if temperature == 1.0 and bias == 0.0:
        return probabilities.copy()
    return special.expit(logits(probabilities) / temperature + bias)


def apply(probabilities: np.ndarray, fitted: model_card.Calibration | None) -> np.ndarray:
    """The card's calibration applied to raw probabilities; ``None`` (nothing fitted) leaves them as they are."""
    if fitted is None:
        return np.asarray(probabilities, dtype=np.float64).copy()
    return rescale(probabilities, fitted.temperature, fitted.bias)
