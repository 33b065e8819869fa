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

from detector.training import (
    architectures,
    blend_boundary,
    datasets,
    initial_weights,
    run_batches,
    sources,
    training_run,
)
from detector.training.augment import AugmentationPolicy
from detector.training.training_config import TrainingConfig

logger = logging.getLogger(__name__)


def use_threads(count: int) -> None:
    """Lets TensorFlow use ``count`` threads within and between operations; call before it runs anything.

    Not part of ``TrainingConfig``: it changes how fast a run goes, not what it learns. Measured
    (``bench/bench_architectures.py --threads``): InceptionResNetV2's many small operations keep two cores busy
    badly, so two runs side by side on one thread each do 1.4 times the work of one run on both; VGG16 gains 5%."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(count)
    tf.config.threading.set_inter_op_parallelism_threads(count)


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
            paired=training_run.run_paired(run, fresh, config.paired),
            change_masks=training_run.run_change_masks(run, fresh, config.change_masks),
            match_sharpness=training_run.run_match_sharpness(run, fresh, config.match_sharpness),
        )
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
            initial_weights.load_initial_weights(model, Path(config.init_weights))
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
        training_batches = run_batches.training_batches(config, train_images, train_set.labels, initial_epoch, policy)
        # The batches hold what they need (for SBI, copies of the reals): let the full array go.
        del train_images
        validation_batches = run_batches.validation_batches(config, validation_images, validation_set.labels)
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
    extra_set = run_batches.load_extra_reals(config)
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
