"""A training run's settings (``TrainingConfig``), which the command line builds and ``detector.training.train``
and ``detector.training.run_batches`` read; checked when made, so a run never starts on settings that do not fit
together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.models import model_card
from detector.training import PRECISIONS, datasets, mixed_batches, self_blend_batches, training_run
from detector.training.augment import AugmentationPolicy

# "utkface_except_selection": the same photos but the tenth a later mixed stage selects on
# (``datasets.split_utkface_selection``), so that stage chooses its epochs on real people no stage before it saw.
EXTRA_REALS = (None, "utkface", "utkface_except_selection")
# Training fakes: a mixed run (``"mixed"``) draws from every source, balanced (``detector.training.mixed_batches``).
FAKES = (*self_blend_batches.FAKE_SOURCES, "mixed")
EXPORT_CHECKPOINTS = ("best", "last")
# Each extra source of real faces in words, for the card's training data ("path (words)", as for DFDC).
EXTRA_REALS_WORDS = {
    "utkface": "UTKFace real face photos, except the quarter held out for testing",
    "utkface_except_selection": "UTKFace real face photos, except the quarter held out for testing and the tenth "
    "later stages select on",
}
# The folder under ../shared/data each extra source of real faces is read from.
EXTRA_REALS_FOLDERS = {"utkface": "utkface", "utkface_except_selection": "utkface"}


@dataclass(frozen=True)
class TrainingConfig:
    name: str
    architecture: str = "compact"
    input_size: int = 224
    resolution: int = 128
    epochs: int = 12
    # Batches an epoch holds (None: one pass over the training crops). Shorter epochs checkpoint, validate and
    # early-stop more often, so that a run that is interrupted still leaves its best weights.
    steps_per_epoch: int | None = None
    batch_size: int = 32
    learning_rate: float = 1e-3
    validation_percent: int = datasets.VALIDATION_PERCENT
    patience: int = 3
    # Stalled epochs in a row before the learning rate halves (training_run.plateau_schedule).
    rate_patience: int = 1
    seed: int = 1234
    limit: int | None = None
    init_weights: str | None = None
    run_folder: str = "runs"
    models_folder: str = str(model_card.MODELS_FOLDER)
    cache_folder: str = ".cache"
    command: str = ""
    # Training fakes: DFDC fake crops ("dfdc"), self-blends of the training reals ("sbi") or half each ("both");
    # extra real crops, all for training ("utkface"). See docs/DESIGN.md, "Self-blended training fakes (SBI)".
    # "mixed": every source (DFDC with its second fakes, FaceForensics++, UTKFace reals, self-blends), balanced.
    fakes: str = "dfdc"
    extra_reals: str | None = None
    precision: str = "float32"
    # The augmentation a fresh run trains with (None: today's default); a resumed run keeps the one it started with.
    augmentation: AugmentationPolicy | None = None
    # Whose validation loss picks the best epoch, halves the rate and stops the run (SELECT_ON; None: "dfdc" for
    # a fresh run, and for a resumed one what it started with).
    select_on: str | None = None
    # What picks the best epoch, halves the rate and stops the run (training_run.SELECT_BY; None: "loss" for a fresh
    # run, and for a resumed one what it started with).
    select_by: str | None = None
    # Which checkpoint the run ships: "best" (by select_by) or "last" (the last epoch trained), to compare a
    # run's selected epoch with where it ended.
    export_checkpoint: str = "best"
    # A mixed run's batch recipe (``mixed_batches.MIXES``; None: "even" for a fresh run, and for a resumed one what
    # it started with). It weighs the sources of the selection loss too.
    mix: str | None = None
    # Weight of the blend-boundary loss beside the crop's (``blend_boundary``; 0: no boundary head). A mixed run's
    # choice for life (a resumed run keeps its own).
    boundary_weight: float | None = None
    # Whether FF++'s training fakes teach the boundary head too, with the masks of their aligned real pairs
    # (``ffpp_pairs``; needs a boundary weight). A mixed run's choice for life (None: as the run started, or no).
    ffpp_seams: bool | None = None
    # Whether a mixed run's batches put each fake beside the real it was made from, augmented alike
    # (``mixed_batches.MixedBatches``, paired). A mixed run's choice for life (None: as the run started, or no).
    paired: bool | None = None
    # Whether a mixed run blurs each real it draws to its source's fakes' softness, so that sharpness does not tell
    # the labels apart (``sharpness_match``). A mixed run's choice for life (None: as the run started, or no).
    match_sharpness: bool | None = None
    # Whether the boundary head draws the region each fake changed instead of its seam, learnt from DFDC's and FF++'s
    # fakes' aligned pairs and the self-blends' masks (``blend_boundary.region_map``; needs a boundary weight). A
    # mixed run's choice for life (None: as the run started, or no).
    change_masks: bool | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.fakes not in FAKES:
            raise ValueError(f"fakes must be one of {FAKES}, got {self.fakes!r}")
        if self.fakes == "mixed" and self.extra_reals is not None:
            raise ValueError("a mixed run already trains on UTKFace reals: leave out extra_reals")
        if self.extra_reals not in EXTRA_REALS:
            raise ValueError(f"extra_reals must be one of {EXTRA_REALS}, got {self.extra_reals!r}")
        if self.select_on is not None and self.select_on not in training_run.SELECT_ON:
            raise ValueError(f"select_on must be one of {tuple(training_run.SELECT_ON)}, got {self.select_on!r}")
        if self.selects_on_utkface and self.extra_reals == "utkface":
            raise ValueError(
                f"select_on={self.select_on!r} keeps a tenth of UTKFace out of training, which extra_reals='utkface' "
                "would train on: use extra_reals='utkface_except_selection', or select on it with fakes='mixed'"
            )
        if self.select_by is not None and self.select_by not in training_run.SELECT_BY:
            raise ValueError(f"select_by must be one of {tuple(training_run.SELECT_BY)}, got {self.select_by!r}")
        if self.export_checkpoint not in EXPORT_CHECKPOINTS:
            raise ValueError(f"export_checkpoint must be one of {EXPORT_CHECKPOINTS}, got {self.export_checkpoint!r}")
        if self.mix is not None and self.mix not in mixed_batches.MIXES:
            raise ValueError(f"mix must be one of {tuple(mixed_batches.MIXES)}, got {self.mix!r}")
        if self.mix is not None and self.fakes != "mixed":
            raise ValueError("a batch recipe (mix) is for a mixed run: use it with fakes='mixed'")
        if self.mix is not None and self.select_on in ("mixed", "mixed_utkface"):
            selected = {"dfdc", "ffpp"} | ({"utkface"} if self.selects_on_utkface else set())
            missing = selected - set(mixed_batches.MIXES[self.mix].shares)
            if missing:
                raise ValueError(
                    f"mix {self.mix!r} gives no share to {', '.join(sorted(missing))}, which select_on="
                    f"{self.select_on!r} weighs as the mix does: select on 'dfdc' instead"
                )
        if self.boundary_weight is not None and not (self.boundary_weight >= 0 and np.isfinite(self.boundary_weight)):
            raise ValueError(f"boundary_weight must be a number of at least 0, got {self.boundary_weight}")
        if self.boundary_weight and self.fakes != "mixed":
            raise ValueError("the blend-boundary head learns from a mixed run's self-blends: use it with fakes='mixed'")
        if self.ffpp_seams and self.boundary_weight == 0:
            raise ValueError("FF++ seams teach the blend-boundary head: give it a boundary weight")
        if self.change_masks and self.boundary_weight == 0:
            raise ValueError("change masks teach the blend-boundary head: give it a boundary weight")
        if self.change_masks and self.ffpp_seams:
            raise ValueError("change masks draw regions, FF++ seams seams: choose one")
        if self.paired and self.fakes != "mixed":
            raise ValueError("paired batches are a mixed run's: use them with fakes='mixed'")
        if self.paired and self.boundary_weight:
            raise ValueError("paired batches are not made with the blend-boundary head's targets")
        if self.match_sharpness and self.fakes != "mixed":
            raise ValueError("sharpness matching is a mixed run's: use it with fakes='mixed'")
        if self.match_sharpness and self.paired:
            raise ValueError("a paired batch's reals are its fakes' partners: match sharpness in unpaired batches")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {self.patience}")
        if self.rate_patience < 1:
            raise ValueError(f"rate_patience must be at least 1 epoch, got {self.rate_patience}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {self.steps_per_epoch}")

    @property
    def selects_on_utkface(self) -> bool:
        """Whether the run keeps a tenth of UTKFace out of training to select on it
        (``datasets.split_utkface_selection``)."""
        return self.select_on in training_run.SELECTS_ON_UTKFACE
