"""What the command line's commands share: argument types and one note."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detector.analysis.scoring import EnsembleScorer
    from detector.training import augment


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def augmentation_policy(text: str) -> augment.AugmentationPolicy:
    from detector.training import augment

    try:
        return augment.policy_from_text(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def warn_unfitted(scorer: EnsembleScorer) -> None:
    """Several models without thresholds fitted for their average: say whose are used instead."""
    if len(scorer.scorers) > 1 and not scorer.thresholds_fitted:
        print(f"note: {scorer.thresholds.chosen_on}", file=sys.stderr)
