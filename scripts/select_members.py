"""Chooses an average's members by forward selection on the trained sources' calibration halves.

Ensemble selection from a library of networks: start with no member, add the one that raises the measure most, stop
when the best addition raises it by less than ``--min-gain`` or at ``--at-most`` members. The measure is the mean of
two ROC AUCs of the members' averaged probabilities: the DFDC validation split's calibration half, and the mean over
the four FF++ methods of their calibration halves (each method's fakes against the FF++ reals). Nothing the rule for a
new default judges on is read: no report half, no never-trained set, not the unseen people.

Run from the repository root (needs ``../shared`` and the benchmark's sets in ``.cache/benchmark``)::

    python -m scripts.select_members --models-folder runs/export wide_v1 wide_v1_utk wide_people ...

Members are scored as ``scripts.measure_member_spread`` scores them (each crop as it is and mirrored) and kept in
the same ``--scores`` file, so a member scored by either is not scored again.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from detector.training import datasets
from scripts.measure_member_spread import FFPP, add_scoring_arguments, score_members


@dataclass(frozen=True)
class Step:
    """One step of the selection: the member added and the measure of the members so far."""

    added: str
    members: tuple[str, ...]
    measure: float


def forward_select(
    pool: Sequence[str], measure: Callable[[tuple[str, ...]], float], at_most: int, min_gain: float
) -> list[Step]:
    """Adds, one at a time and never twice, the member of ``pool`` whose addition gives the highest ``measure``
    (the first in pool order on a tie), while the gain over the members so far is at least ``min_gain`` (the first
    member is always added) and fewer than ``at_most`` are chosen."""
    if at_most < 1:
        raise ValueError("at least one member must be allowed")
    if len(set(pool)) != len(pool):
        raise ValueError("the pool names a network twice")
    steps: list[Step] = []
    chosen: tuple[str, ...] = ()
    while len(chosen) < min(at_most, len(pool)):
        candidates = [(measure((*chosen, name)), name) for name in pool if name not in chosen]
        best_value = max(value for value, _ in candidates)
        best_name = next(name for value, name in candidates if value == best_value)
        if steps and best_value - steps[-1].measure < min_gain:
            break
        chosen = (*chosen, best_name)
        steps.append(Step(best_name, chosen, best_value))
    return steps


def calibration_half_measure(scores: dict[str, np.ndarray]) -> Callable[[tuple[str, ...]], float]:
    """The selection's measure over ``scores`` (``score_members``' keys): the mean of DFDC's calibration-half ROC AUC
    and the four FF++ methods' mean calibration-half ROC AUC, of the members' mean probability."""
    parts = {}
    for key in ("dfdc", *FFPP):
        in_half = np.array([datasets.in_calibration_half(str(group)) for group in scores[f"{key}|groups"]])
        parts[key] = (in_half, scores[f"{key}|labels"].astype(int)[in_half])

    def auc(key: str, members: tuple[str, ...]) -> float:
        in_half, labels = parts[key]
        mean = np.mean([scores[f"{key}|{name}"][in_half] for name in members], axis=0)
        return float(roc_auc_score(labels, mean))

    def measure(members: tuple[str, ...]) -> float:
        return (auc("dfdc", members) + float(np.mean([auc(key, members) for key in FFPP]))) / 2

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pool", nargs="+", help="the networks to choose from (NAME.json in --models-folder)")
    add_scoring_arguments(parser)
    parser.add_argument("--at-most", type=int, default=5, help="members at most (default 5)")
    parser.add_argument("--min-gain", type=float, default=0.002, help="the smallest gain that adds a member")
    arguments = parser.parse_args()

    scores = score_members(arguments.pool, arguments.models_folder, arguments.cache_folder, arguments.scores)
    measure = calibration_half_measure(scores)
    for name in arguments.pool:
        print(f"alone {name:22s} {measure((name,)):.4f}")
    for number, step in enumerate(forward_select(arguments.pool, measure, arguments.at_most, arguments.min_gain), 1):
        print(f"step {number}: + {step.added:22s} measure {step.measure:.4f}  ({', '.join(step.members)})")


if __name__ == "__main__":
    main()
