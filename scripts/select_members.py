"""Chooses an average's members by forward selection on the trained sources' calibration halves.

Ensemble selection from a library of networks: start with no member, add the one that raises the measure most, stop
when the best addition raises it by less than ``--min-gain`` or at ``--at-most`` members. The measure is the mean of
two ROC AUCs of the members' averaged probabilities: the DFDC validation split's calibration half, and the mean over
the four FF++ methods of their calibration halves (each method's fakes against the FF++ reals). With ``--people`` a
third joins the mean: the UTKFace selection tenth's photos (real people) against the DFDC calibration half's fakes,
which falls as the members call people unlike DFDC's fake; only for a pool that never trained on that tenth (first
stages, and lines whose UTKFace step kept it out, ``--extra-reals utkface-except-selection``). Nothing the rule for
a new default judges on is read: no report half, no never-trained set, not the unseen people (the held-out quarter).

Run from the repository root (needs ``../shared`` and the benchmark's FF++ sets in ``.cache/benchmark``)::

    python -m scripts.select_members --models-folder runs/export [--people] wide_v1 wide_v1_utk wide_people ...

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
from scripts.measure_member_spread import FFPP, UTKFACE_SELECTION, add_scoring_arguments, score_members


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


def calibration_half_measure(scores: dict[str, np.ndarray], people: bool = False) -> Callable[[tuple[str, ...]], float]:
    """The selection's measure over ``scores`` (``score_members``' keys): the mean of DFDC's calibration-half ROC AUC
    and the four FF++ methods' mean calibration-half ROC AUC, of the members' mean probability; with ``people`` also
    the ROC AUC of the UTKFace selection tenth (all real) against DFDC's calibration-half fakes."""
    parts = {}
    for key in ("dfdc", *FFPP):
        in_half = np.array([datasets.in_calibration_half(str(group)) for group in scores[f"{key}|groups"]])
        parts[key] = (in_half, scores[f"{key}|labels"].astype(int)[in_half])

    def mean_of(key: str, members: tuple[str, ...]) -> np.ndarray:
        return np.mean([scores[f"{key}|{name}"] for name in members], axis=0)

    def auc(key: str, members: tuple[str, ...]) -> float:
        in_half, labels = parts[key]
        return float(roc_auc_score(labels, mean_of(key, members)[in_half]))

    def people_auc(members: tuple[str, ...]) -> float:
        in_half, labels = parts["dfdc"]
        fakes = mean_of("dfdc", members)[in_half][labels == 1]
        photos = mean_of(UTKFACE_SELECTION, members)
        return float(roc_auc_score(np.r_[np.zeros(photos.size), np.ones(fakes.size)], np.r_[photos, fakes]))

    def measure(members: tuple[str, ...]) -> float:
        terms = [auc("dfdc", members), float(np.mean([auc(key, members) for key in FFPP]))]
        if people:
            terms.append(people_auc(members))
        return float(np.mean(terms))

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pool", nargs="+", help="the networks to choose from (NAME.json in --models-folder)")
    add_scoring_arguments(parser)
    parser.add_argument("--at-most", type=int, default=5, help="members at most (default 5)")
    parser.add_argument("--min-gain", type=float, default=0.002, help="the smallest gain that adds a member")
    parser.add_argument(
        "--people",
        action="store_true",
        help="also weigh the UTKFace selection tenth against DFDC's fakes (a pool that never trained on it)",
    )
    arguments = parser.parse_args()

    read = ("dfdc", *FFPP, *((UTKFACE_SELECTION,) if arguments.people else ()))
    scores = score_members(arguments.pool, arguments.models_folder, arguments.cache_folder, arguments.scores, read)
    measure = calibration_half_measure(scores, arguments.people)
    for name in arguments.pool:
        print(f"alone {name:22s} {measure((name,)):.4f}")
    for number, step in enumerate(forward_select(arguments.pool, measure, arguments.at_most, arguments.min_gain), 1):
        print(f"step {number}: + {step.added:22s} measure {step.measure:.4f}  ({', '.join(step.members)})")


if __name__ == "__main__":
    main()
