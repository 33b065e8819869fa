"""A training run's folder (``runs/<name>/``, ignored by git): what a run keeps so that it continues the same in a
later invocation and its card can say how it was made.

``log.csv`` holds one row per epoch; the learning rate and the decision to stop are computed from its validation
figures (``selection_scores``, ``plateau_schedule``), not from callbacks' memory, which a new process would not have.
``augmentation.json``, ``select_on.json``, ``select_by.json`` and ``mix.json`` record what a fresh run trains with
and selects its epochs on and by, which a resumed run keeps; ``sessions.jsonl`` lists every invocation with the
code version that ran it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from detector.training.augment import AugmentationPolicy

logger = logging.getLogger(__name__)


# What picks a run's best epoch, halves its rate and stops it: the Keras log key, whether higher is better, and
# words for the card. The loss also rewards confidence, which the calibration fitted after training refits; the
# ROC AUC only ranks. Mixed runs' losses went flat while their ROC AUC rose for three times as many batches, and
# their last epochs ranked every benchmark set better (docs/EXPERIMENTS.md, "The last epoch instead of the lowest
# selection loss").
SELECT_BY = {
    "loss": ("val_loss", False, "the lowest validation loss"),
    "auc": ("val_auc", True, "the highest validation ROC AUC"),
}
SELECT_BY_FILE = "select_by.json"


def selection_words(select_on: str | None, select_by: str | None) -> str:
    """How a run's best epoch was chosen, for its card: by what (``SELECT_BY``), on which crops (``SELECT_ON``)."""
    return f"{SELECT_BY[select_by or 'loss'][2]} on {SELECT_ON[select_on or 'dfdc']}"


def completed_epochs(log_path: Path) -> int:
    return len(selection_scores(log_path))


def selection_scores(log_path: Path, select_by: str = "loss") -> list[float]:
    """Each logged epoch's validation figure that ``select_by`` (``SELECT_BY``) chooses on, turned so that lower
    is better (a ROC AUC is negated)."""
    key, higher_is_better, _ = SELECT_BY[select_by]
    if not log_path.is_file():
        return []
    with log_path.open(newline="") as handle:
        # A row cut short (the process stopped while writing it) has no validation loss: that epoch did not count.
        rows = [row for row in csv.DictReader(handle) if row.get("val_loss")]
    return [-float(row[key]) if higher_is_better else float(row[key]) for row in rows]


def plateau_schedule(
    scores: Sequence[float],
    initial_rate: float,
    patience: int,
    factor: float = 0.5,
    least_rate: float = 1e-5,
    rate_patience: int = 1,
) -> tuple[float, bool]:
    """The learning rate for the next epoch, and whether to stop, from the selection scores of the epochs so far
    (``selection_scores``: lower is better).

    Every ``rate_patience``-th epoch in a row that does not lower the best score halves the rate (down to
    ``least_rate``); ``patience`` of them in a row stop the run. With short epochs and a noisy validation set, a
    ``rate_patience`` of 1 spends the rate on noise: a run of 400-batch epochs reached the floor in 16 epochs.
    A function of the run's log, not of a callback's memory: a run resumed by a later invocation slows down and stops
    exactly as one left running would (Keras's callbacks forget both on every ``fit``)."""
    if rate_patience < 1:
        raise ValueError(f"rate_patience must be at least 1, got {rate_patience}")
    rate, best, stalled = initial_rate, float("inf"), 0
    for score in scores:
        if score < best:
            best, stalled = score, 0
        else:
            stalled += 1
            if stalled % rate_patience == 0:
                rate = max(rate * factor, least_rate)
    return rate, stalled >= patience


class PlateauSchedule(keras.callbacks.Callback):
    """Applies ``plateau_schedule`` to the run's history and each new epoch's figure that ``select_by`` names."""

    def __init__(
        self,
        scores: Sequence[float],
        initial_rate: float,
        patience: int,
        rate_patience: int = 1,
        select_by: str = "loss",
    ) -> None:
        super().__init__()
        self.scores = list(scores)
        self.initial_rate = initial_rate
        self.patience = patience
        self.rate_patience = rate_patience
        self.key, self.higher_is_better, _ = SELECT_BY[select_by]

    def _apply(self) -> bool:
        rate, stop = plateau_schedule(self.scores, self.initial_rate, self.patience, rate_patience=self.rate_patience)
        self.model.optimizer.learning_rate = rate
        best = min(self.scores, default=float("nan"))
        logger.info(
            "after %d epochs (best %s %.4f): learning rate %.3g%s",
            len(self.scores),
            self.key,
            -best if self.higher_is_better else best,
            rate,
            ", stopping" if stop else "",
        )
        return stop

    def on_train_begin(self, logs: dict | None = None) -> None:
        # A run that should already have stopped is not trained at all (``train`` checks before ``fit``).
        self._apply()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = float(logs[self.key])
        self.scores.append(-value if self.higher_is_better else value)
        if self._apply():
            self.model.stop_training = True


POLICY_FILE = "augmentation.json"


SELECT_ON = {
    "dfdc": "the DFDC validation crops (real and fake)",
    "self_blends": "the DFDC validation reals and self-blends of them (no fake labels used)",
    "mixed": "the DFDC and FaceForensics++ validation crops, each source weighed as the run's batch mix weighs it, "
    "its reals as much as its fakes, and each FF++ method alike",
    "mixed_utkface": "the DFDC and FaceForensics++ validation crops and a tenth of the UTKFace photos kept out of "
    "training with a fixed self-blend of each, each source weighed as the run's batch mix weighs it, its reals as "
    "much as its fakes, and each FF++ method alike",
}
# Selection sets that take UTKFace photos out of training (``datasets.split_utkface_selection``).
SELECTS_ON_UTKFACE = frozenset({"mixed_utkface"})
SELECT_ON_FILE = "select_on.json"


def _run_choice(run: Path, fresh: bool, file: str, key: str, requested: str | None, default: str, option: str) -> str:
    """A choice a run keeps for life: ``requested`` (None: ``default``) for a fresh run, written into ``file`` in
    the run folder; a resumed run keeps what it started with and refuses another. Runs from before the file
    existed took ``default``."""
    path = run / file
    if fresh:
        chosen = requested or default
        path.write_text(json.dumps({key: chosen}) + "\n", encoding="utf-8")
        return chosen
    started = json.loads(path.read_text(encoding="utf-8"))[key] if path.is_file() else default
    if requested is not None and started != requested:
        raise ValueError(f"{run} was started with {option} {started.replace('_', '-')}; continue it with that")
    return started


def run_select_on(run: Path, fresh: bool, requested: str | None = None) -> str:
    """What a run's validation loss is measured on (``SELECT_ON``; None: ``"dfdc"``), kept for the run's life,
    since its log's losses are compared across epochs. Runs from before the choice existed selected on DFDC."""
    return _run_choice(run, fresh, SELECT_ON_FILE, "select_on", requested, "dfdc", "--select-on")


def run_select_by(run: Path, fresh: bool, requested: str | None = None) -> str:
    """What picks a run's best epoch (``SELECT_BY``; None: ``"loss"``), kept for the run's life, since its rate and
    its stop follow it from the first epoch. Runs from before the choice existed selected by the loss."""
    return _run_choice(run, fresh, SELECT_BY_FILE, "select_by", requested, "loss", "--select-by")


MIX_FILE = "mix.json"


def run_mix(run: Path, fresh: bool, requested: str | None = None) -> str:
    """Which batch recipe (``mixed_batches.MIXES``; None: ``"even"``) a mixed run trains and selects with, kept for
    the run's life. Mixed runs from before the choice existed took the even mix."""
    return _run_choice(run, fresh, MIX_FILE, "mix", requested, "even", "--mix")


BOUNDARY_FILE = "boundary.json"


def run_boundary_weight(run: Path, fresh: bool, requested: float | None = None) -> float:
    """The weight of a mixed run's blend-boundary loss (``detector.training.blend_boundary``; None: 0, no boundary
    head), kept for the run's life: its checkpoints hold the head or not. Runs from before the choice existed had
    none."""
    chosen = _run_choice(
        run,
        fresh,
        BOUNDARY_FILE,
        "boundary_weight",
        None if requested is None else repr(float(requested)),
        "0.0",
        "--boundary-weight",
    )
    return float(chosen)


def _run_flag(run: Path, fresh: bool, file: str, key: str, requested: bool | None, option: str) -> bool:
    """A yes-or-no choice a run keeps for life (``_run_choice``; None: no). Runs from before it existed: no."""
    words = {True: "yes", False: "no"}
    return _run_choice(run, fresh, file, key, None if requested is None else words[requested], "no", option) == "yes"


FFPP_SEAMS_FILE = "ffpp_seams.json"


def run_ffpp_seams(run: Path, fresh: bool, requested: bool | None = None) -> bool:
    """Whether a mixed run's FF++ fakes teach its boundary head with their pairs' masks (``ffpp_pairs``)."""
    return _run_flag(run, fresh, FFPP_SEAMS_FILE, "ffpp_seams", requested, "--ffpp-seams")


CHANGE_MASKS_FILE = "change_masks.json"


def run_change_masks(run: Path, fresh: bool, requested: bool | None = None) -> bool:
    """Whether a mixed run's boundary head draws change regions from every pair's mask."""
    return _run_flag(run, fresh, CHANGE_MASKS_FILE, "change_masks", requested, "--change-masks")


PAIRED_FILE = "paired.json"


def run_paired(run: Path, fresh: bool, requested: bool | None = None) -> bool:
    """Whether a mixed run's batches pair each fake with the real it was made from."""
    return _run_flag(run, fresh, PAIRED_FILE, "paired", requested, "--paired")


MATCH_SHARPNESS_FILE = "match_sharpness.json"


def run_match_sharpness(run: Path, fresh: bool, requested: bool | None = None) -> bool:
    """Whether a mixed run blurs its reals to its fakes' softness (``sharpness_match``)."""
    return _run_flag(run, fresh, MATCH_SHARPNESS_FILE, "match_sharpness", requested, "--match-sharpness")


def run_policy(run: Path, fresh: bool, requested: AugmentationPolicy | None = None) -> AugmentationPolicy:
    """The augmentation a run trains with: for a fresh run ``requested`` (None: today's default), written into the
    run folder; on resume or export the policy the run started with, so its card describes what the model saw.
    Raises ``ValueError`` when a resumed run is asked for a different policy than it started with."""
    path = run / POLICY_FILE
    if fresh or not path.is_file():
        if not fresh:
            logger.warning("%s has no %s: recording the policy asked for now", run, POLICY_FILE)
        policy = requested or AugmentationPolicy()
        path.write_text(json.dumps(dataclasses.asdict(policy), indent=1) + "\n", encoding="utf-8")
        return policy
    policy = AugmentationPolicy(**json.loads(path.read_text(encoding="utf-8")))
    if requested is not None and requested != policy:
        raise ValueError(
            f"{run} started with augmentation {policy.describe()}; continue it without --augment or with the same"
        )
    return policy


SESSIONS_FILE = "sessions.jsonl"


def code_version() -> dict[str, Any]:
    """The project's git commit, and whether the working tree differed from it; ``commit`` is None outside git."""
    project = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(changes)}


def record_session(run: Path, command: str, epochs_done: int, action: str) -> list[dict[str, Any]]:
    """Appends this invocation (when, which code, after how many epochs, what it did) to the run's sessions file and
    returns all of them: a run resumed several times may have been trained by more than one version of the code,
    and its card says which."""
    entry = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **code_version(),
        "after_epoch": epochs_done,
        "action": action,
        "command": command,
    }
    path = run / SESSIONS_FILE
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
