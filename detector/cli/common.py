"""What the command line's commands share: how TensorFlow keeps memory, argument types and one note."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detector.analysis.scoring import EnsembleScorer
    from detector.training import augment


# TensorFlow reads this when it makes its CPU allocator, at its first operation.
REUSE_TENSOR_MEMORY = "TF_CPU_ALLOCATOR_USE_BFC"


def reuse_tensor_memory() -> None:
    """Makes TensorFlow keep freed tensor memory for the next tensors (its best-fit allocator) instead of malloc's.

    Call before TensorFlow runs anything. With malloc, every activation larger than malloc's largest mmap threshold
    (32 MB; a training batch's are larger) is mapped and unmapped again at each step, and every page of it faults
    anew when written. On a virtual machine where page faults are costly this kept a compact training run 45% of
    its time in the kernel (140,000 faults a second) and doubled its epoch (docs/DESIGN.md, "TensorFlow's own
    allocator"). The memory held is what the largest step needs, which malloc held at that step anyway. A value the
    caller set (``TF_CPU_ALLOCATOR_USE_BFC=false``) is kept.
    """
    os.environ.setdefault(REUSE_TENSOR_MEMORY, "true")


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def not_negative(text: str) -> float:
    """A finite number of at least 0 (argparse reports anything else as a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text}")
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
