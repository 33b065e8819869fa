"""Training a face-crop classifier: ``python -m detector train ...``.

A run lives in a run folder (``runs/<name>/``, ignored by git; ``detector.training.training_run``): ``log.csv``
per epoch, ``last.keras`` after each epoch (to continue an interrupted run with ``--resume``), ``best.keras`` at the
best validation figure (the lowest loss, or with ``select_by="auc"`` the highest ROC AUC). When the run ends
(epochs done or early stopping) ``train`` returns the best model; ``detector.shipping.export`` calibrates and
measures it on the validation split and writes ``models/<name>.keras`` with its card.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from detector.models import model_card
from detector.training import (
    PRECISIONS,
    architectures,
    blend_boundary,
    datasets,
    ffpp_pairs,
    landmarks,
    mixed_batches,
    self_blend_batches,
    sources,
    training_run,
)
from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy

logger = logging.getLogger(__name__)

EXTRA_REALS = (None, "utkface")
# Training fakes: a mixed run (``"mixed"``) draws from every source, balanced (``detector.training.mixed_batches``).
FAKES = (*self_blend_batches.FAKE_SOURCES, "mixed")
EXPORT_CHECKPOINTS = ("best", "last")
# Keras dtype policies a run may use. "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: measured
# 1.9 times faster a training step for VGG16 and 1.5-1.7 for ResNet50 on CPUs with AVX512_BF16, no gain
# for the compact networks or InceptionResNetV2 (bench/bench_architectures.py --precision, docs/DESIGN.md).
# Each extra source of real faces in words, for the card's training data ("path (words)", as for DFDC).
EXTRA_REALS_WORDS = {"utkface": "UTKFace real face photos, except the quarter held out for testing"}


def use_threads(count: int) -> None:
    """Lets TensorFlow use ``count`` threads within and between operations; call before it runs anything.

    Not part of ``TrainingConfig``: it changes how fast a run goes, not what it learns. Measured
    (``bench/bench_architectures.py --threads``): InceptionResNetV2's many small operations keep two cores busy
    badly, so two runs side by side on one thread each do 1.4 times the work of one run on both; VGG16 gains 5%."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(count)
    tf.config.threading.set_inter_op_parallelism_threads(count)


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
        if self.selects_on_utkface and self.extra_reals is not None:
            raise ValueError(
                f"select_on={self.select_on!r} keeps a tenth of UTKFace out of training, which extra_reals would "
                "train on: select on it with fakes='mixed'"
            )
        if self.select_by is not None and self.select_by not in training_run.SELECT_BY:
            raise ValueError(f"select_by must be one of {tuple(training_run.SELECT_BY)}, got {self.select_by!r}")
        if self.export_checkpoint not in EXPORT_CHECKPOINTS:
            raise ValueError(f"export_checkpoint must be one of {EXPORT_CHECKPOINTS}, got {self.export_checkpoint!r}")
        if self.mix is not None and self.mix not in mixed_batches.MIXES:
            raise ValueError(f"mix must be one of {tuple(mixed_batches.MIXES)}, got {self.mix!r}")
        if self.mix is not None and self.fakes != "mixed":
            raise ValueError("a batch recipe (mix) is for a mixed run: use it with fakes='mixed'")
        if self.boundary_weight is not None and not (self.boundary_weight >= 0 and np.isfinite(self.boundary_weight)):
            raise ValueError(f"boundary_weight must be a number of at least 0, got {self.boundary_weight}")
        if self.boundary_weight and self.fakes != "mixed":
            raise ValueError("the blend-boundary head learns from a mixed run's self-blends: use it with fakes='mixed'")
        if self.ffpp_seams and self.boundary_weight == 0:
            raise ValueError("FF++ seams teach the blend-boundary head: give it a boundary weight")
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


class CropBatches(keras.utils.PyDataset):
    """Shuffled, augmented batches from an in-memory ``(N, S, S, 3) uint8`` array."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        policy: AugmentationPolicy,
        seed: int,
        shuffle: bool,
    ) -> None:
        super().__init__()
        self.images = images
        self.labels = labels.astype(np.float32)
        self.batch_size = batch_size
        self.policy = policy
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(images))
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[chosen]
        if self.policy is not NO_AUGMENTATION:
            batch = self.policy.apply_batch(batch, self.rng)
        return batch.astype(np.float32), self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


class StepEpochs(keras.utils.PyDataset):
    """Epochs of ``steps`` batches, drawn on through the passes of ``batches``, a dataset whose epoch is one pass.

    Keras, given ``steps_per_epoch`` and a dataset of another length, runs on through the dataset across epochs and
    cuts short the epoch in which a pass ends (measured: dfdc_first_utk's fourth epoch, 109 batches of 300); and it
    calls the dataset's ``on_epoch_end`` (a reshuffle) after each of its own epochs, in the middle of a pass. Here
    an epoch is ``steps`` batches: batch ``i`` of epoch ``e`` is batch ``(e * steps + i) % len(batches)`` of the
    current pass, so Keras may read an epoch's batches in any order (``fit`` shuffles them), and ``batches`` starts
    a new pass (``on_epoch_end``) after the epoch in which the last ended. That epoch reads the first batches of the
    pass again (with fresh augmentation) where it ran past the end.
    """

    def __init__(self, batches: keras.utils.PyDataset, steps: int) -> None:
        super().__init__()
        self.batches = batches
        self.steps = steps
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> Any:
        return self.batches[(self.epoch * self.steps + index) % len(self.batches)]

    def on_epoch_end(self) -> None:
        passes_before = self.epoch * self.steps // len(self.batches)
        self.epoch += 1
        if self.epoch * self.steps // len(self.batches) > passes_before:
            self.batches.on_epoch_end()


def _load_split(config: TrainingConfig) -> tuple[datasets.CropSet, datasets.CropSet]:
    crops = datasets.load_dfdc_faces()
    train, validation = datasets.split_by_group(crops, config.validation_percent)
    if config.limit:
        rng = np.random.default_rng(config.seed)
        train = train.subset(np.isin(np.arange(len(train)), rng.permutation(len(train))[: config.limit]))
        validation = validation.subset(
            np.isin(np.arange(len(validation)), rng.permutation(len(validation))[: max(1, config.limit // 5)])
        )
    return train, validation


def _load_extra_reals(config: TrainingConfig) -> datasets.CropSet | None:
    """The extra real crops (``config.extra_reals``) to train on, or None.

    Validation stays the DFDC split, so every run is measured on the same crops. A quarter of UTKFace
    (``datasets.split_utkface``) is never trained on: it measures false positives on unseen people, for runs
    with and without it alike. ``limit`` caps the rest too (smoke runs).
    """
    if config.extra_reals is None:
        return None
    extra, _ = datasets.split_utkface(datasets.load_utkface())
    if config.limit:
        extra = extra.subset(np.arange(len(extra)) < config.limit)
    return extra


def _training_batches(
    config: TrainingConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    initial_epoch: int,
    policy: AugmentationPolicy,
) -> keras.utils.PyDataset:
    """The training batches ``config.fakes`` asks for, with the extra reals added.

    ``"dfdc"`` (the default) keeps the DFDC crops' own real/fake mix (``CropBatches``); ``"sbi"`` and ``"both"``
    make balanced batches of reals and self-blended (and DFDC) fakes from the reals' face meshes, computed once
    and cached beside the image cache (``landmarks.precompute_landmarks``).
    """
    seed = config.seed + initial_epoch
    if config.fakes == "mixed":
        pools = sources.mixed_pools(
            config.input_size,
            Path(config.cache_folder),
            False,
            config.validation_percent,
            config.limit,
            config.selects_on_utkface,
        )
        return mixed_batches.MixedBatches(
            pools,
            config.batch_size,
            policy,
            seed,
            Path(config.cache_folder),
            config.steps_per_epoch,
            mixed_batches.MIXES[config.mix or "even"],
            boundary_side=config.resolution // blend_boundary.MAP_STRIDE if config.boundary_weight else None,
            known_masks=_ffpp_masks(pools, Path(config.cache_folder)) if config.ffpp_seams else None,
        )
    extra_set = _load_extra_reals(config)
    extra_images = None
    if extra_set is not None:
        extra_images = datasets.decode_images(
            extra_set.root, extra_set.files, config.input_size, Path(config.cache_folder)
        )
    if config.fakes == "dfdc":
        if extra_images is not None:
            train_images = np.concatenate([train_images, extra_images])
            train_labels = np.concatenate([train_labels, np.zeros(len(extra_images), train_labels.dtype)])
        return _in_steps(CropBatches(train_images, train_labels, config.batch_size, policy, seed, shuffle=True), config)
    reals = train_images[train_labels == 0]
    if extra_images is not None:
        reals = np.concatenate([reals, extra_images])
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d reals", done, total),
    )
    dfdc_fakes = train_images[train_labels == 1] if config.fakes == "both" else None
    return _in_steps(
        self_blend_batches.SelfBlendBatches(
            reals, real_landmarks, config.batch_size, policy, seed, config.fakes, dfdc_fakes
        ),
        config,
    )


def _ffpp_masks(pools: sources.Pools, cache: Path) -> dict[tuple[str, str], np.ndarray]:
    """Each FF++ method pool's change masks from its fakes' aligned real pairs (``ffpp_pairs.pair_masks``)."""
    reals = pools.images[("ffpp", sources.REAL)]
    real_groups = pools.groups[("ffpp", sources.REAL)]
    return {
        ("ffpp", method): ffpp_pairs.pair_masks(
            pools.images[("ffpp", method)], pools.groups[("ffpp", method)], reals, real_groups, cache
        )
        for method in sources.FFPP_METHODS
        if ("ffpp", method) in pools.images
    }


def _in_steps(batches: keras.utils.PyDataset, config: TrainingConfig) -> keras.utils.PyDataset:
    """``batches`` in epochs of ``config.steps_per_epoch`` batches (``StepEpochs``), or as they are without it."""
    if config.steps_per_epoch is None or config.steps_per_epoch == len(batches):
        return batches
    return StepEpochs(batches, config.steps_per_epoch)


def _validation_batches(
    config: TrainingConfig, validation_images: np.ndarray, validation_labels: np.ndarray
) -> keras.utils.PyDataset:
    """The batches whose loss selects the best epoch (``config.select_on``), the same every epoch, unaugmented."""
    if config.select_on == "dfdc":
        return CropBatches(validation_images, validation_labels, 64, NO_AUGMENTATION, config.seed, shuffle=False)
    if config.select_on in ("mixed", "mixed_utkface"):
        cache = Path(config.cache_folder)
        pools = sources.mixed_pools(
            config.input_size, cache, True, config.validation_percent, config.limit, config.selects_on_utkface
        )
        if config.selects_on_utkface:
            pools = mixed_batches.with_fixed_self_blends(pools, "utkface", config.seed, cache)
        return mixed_batches.WeightedSelection(pools, mix=mixed_batches.MIXES[config.mix or "even"])
    reals = validation_images[validation_labels == 0]
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d validation reals", done, total),
    )
    return self_blend_batches.SelfBlendBatches(
        reals, real_landmarks, 64, NO_AUGMENTATION, config.seed, fakes="sbi", fixed=True
    )


@dataclass(frozen=True)
class TrainedRun:
    """What a run ends with, for ``detector.shipping.export`` to calibrate, measure and ship: the model of the
    best validation figure (``exported_epoch``), the validation split it was chosen on, and how it was trained."""

    model: keras.Model
    config: TrainingConfig
    validation_set: datasets.CropSet
    validation_images: np.ndarray
    epochs_run: int
    train_count: int
    policy: AugmentationPolicy
    sessions: tuple[dict[str, Any], ...] = ()
    exported_epoch: int | None = None


def train(config: TrainingConfig, resume: bool = False, export_only: bool = False) -> TrainedRun:
    """Trains (or resumes) a run and returns its best model (or its last: ``config.export_checkpoint``); with
    ``export_only``, returns that checkpoint as it is. Shipping it (calibration, measurement, card) is
    ``detector.shipping.export``."""
    keras.utils.set_random_seed(config.seed)
    run = Path(config.run_folder) / config.name
    run.mkdir(parents=True, exist_ok=True)
    log_path, last_path, best_path = run / "log.csv", run / "last.keras", run / "best.keras"

    train_set, validation_set = _load_split(config)
    logger.info(
        "training on %d crops (%d fake), validating on %d (%d fake), split by group",
        len(train_set),
        int(train_set.labels.sum()),
        len(validation_set),
        int(validation_set.labels.sum()),
    )
    cache = Path(config.cache_folder)
    # A mixed run decodes its own pools (detector.training.sources).
    train_images = (
        datasets.decode_images(train_set.root, train_set.files, config.input_size, cache)
        if config.fakes != "mixed"
        else np.empty((0, config.input_size, config.input_size, 3), np.uint8)
    )
    validation_images = datasets.decode_images(validation_set.root, validation_set.files, config.input_size, cache)

    initial_epoch = 0
    if export_only and not (best_path.is_file() or last_path.is_file()):
        raise FileNotFoundError(f"nothing to export: no checkpoint in {run}")
    fresh = not export_only and not (resume and last_path.is_file())
    # What the run trains with and selects on: recorded by a fresh run, kept (and checked) by a continued one.
    policy = training_run.run_policy(run, fresh, requested=config.augmentation)
    config = dataclasses.replace(
        config,
        select_on=training_run.run_select_on(run, fresh, config.select_on),
        select_by=training_run.run_select_by(run, fresh, config.select_by),
    )
    if config.fakes == "mixed":
        config = dataclasses.replace(
            config,
            mix=training_run.run_mix(run, fresh, config.mix),
            boundary_weight=training_run.run_boundary_weight(run, fresh, config.boundary_weight),
            ffpp_seams=training_run.run_ffpp_seams(run, fresh, config.ffpp_seams),
        )
        if config.ffpp_seams and not config.boundary_weight:
            raise ValueError("FF++ seams teach the blend-boundary head: give it a boundary weight")
    if export_only:
        model = None
    elif not fresh:
        model = keras.saving.load_model(last_path)
        started_with = architectures.model_precision(model)
        if started_with != config.precision:
            raise ValueError(f"run {config.name!r} was started with --precision {started_with}; resume it with that")
        initial_epoch = training_run.completed_epochs(log_path)
        logger.info("resuming %s after epoch %d", config.name, initial_epoch)
    else:
        # A fresh start forgets an earlier run of the same name: its log and its sessions.
        for stale in (log_path, run / training_run.SESSIONS_FILE):
            stale.unlink(missing_ok=True)
        with architectures.dtype_policy(config.precision):
            model = architectures.build_classifier(config.architecture, config.input_size, config.resolution)
        if config.init_weights:
            architectures.load_initial_weights(model, Path(config.init_weights))
        if config.boundary_weight:
            model = blend_boundary.with_boundary_head(model, config.resolution)
            blend_boundary.compile_with_boundary(model, config.learning_rate, config.boundary_weight)
        else:
            model.compile(
                optimizer=keras.optimizers.Adam(config.learning_rate),
                loss="binary_crossentropy",
                metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
            )

    scores = training_run.selection_scores(log_path, config.select_by)
    _, stopped = training_run.plateau_schedule(
        scores, config.learning_rate, config.patience, rate_patience=config.rate_patience
    )
    if export_only or stopped or initial_epoch >= config.epochs:
        action = "export"
    else:
        action = "resume" if initial_epoch else "start"
    sessions = training_run.record_session(run, config.command, len(scores), action)
    if initial_epoch < config.epochs and not (export_only or stopped):
        training_batches = _training_batches(config, train_images, train_set.labels, initial_epoch, policy)
        # The batches hold what they need (for SBI, copies of the reals): let the full array go.
        del train_images
        validation_batches = _validation_batches(config, validation_images, validation_set.labels)
        with_head = blend_boundary.has_boundary_head(model)
        if with_head:
            validation_batches = blend_boundary.WithEmptyBoundaries(
                validation_batches, config.resolution // blend_boundary.MAP_STRIDE
            )
        monitor, higher_is_better, _ = training_run.SELECT_BY[config.select_by]
        best_so_far = min(scores) if scores else None
        if best_so_far is not None and higher_is_better:
            best_so_far = -best_so_far
        callbacks = [
            # First: the callbacks below read the crop output's metrics under their one-output names.
            *([blend_boundary.ClassifierMetricNames()] if with_head else []),
            keras.callbacks.CSVLogger(str(log_path), append=True),
            # Before the checkpoints, so that last.keras holds the rate the next epoch will use.
            training_run.PlateauSchedule(
                scores, config.learning_rate, config.patience, config.rate_patience, config.select_by
            ),
            keras.callbacks.ModelCheckpoint(str(last_path)),
            keras.callbacks.ModelCheckpoint(
                str(best_path),
                monitor=monitor,
                mode="max" if higher_is_better else "min",
                save_best_only=True,
                # A resumed run must not replace the best checkpoint with a worse first epoch.
                initial_value_threshold=best_so_far,
            ),
        ]
        model.fit(
            training_batches,
            validation_data=validation_batches,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=config.steps_per_epoch,
            callbacks=callbacks,
            verbose=2,
        )

    shipped_best = config.export_checkpoint == "best" and best_path.is_file()
    # What ships is the classifier alone: a boundary head, if the run trained one, is cut off.
    shipped = blend_boundary.classifier_only(keras.saving.load_model(best_path if shipped_best else last_path))
    extra_set = _load_extra_reals(config)
    train_count = len(train_set) + (len(extra_set) if extra_set is not None else 0)
    if config.fakes == "mixed":
        mixed = sources.mixed_sets(False, config.validation_percent, config.limit, config.selects_on_utkface)
        train_count = sum(len(crops) for crops in mixed.values())
    scores = training_run.selection_scores(log_path, config.select_by)
    # best.keras holds the epoch of the best logged score (the checkpoint only takes one better than the log's best).
    exported_epoch = int(np.argmin(scores)) + 1 if shipped_best and scores else len(scores)
    return TrainedRun(
        shipped,
        config,
        validation_set,
        validation_images,
        len(scores),
        train_count,
        policy,
        tuple(sessions),
        exported_epoch,
    )
