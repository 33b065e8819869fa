"""Training a face-crop classifier: ``python -m detector train ...``.

A run lives in a run folder (``runs/<name>/``, ignored by git): ``log.csv`` per epoch, ``last.keras`` after each
epoch (to resume, also from a later session, with ``--resume``), ``best.keras`` at the lowest validation loss.
When the run ends (epochs done or early stopping) the best model's calibration and decision thresholds are fitted
on one half of the validation split and measured on the other (``detector.calibration``), and it is written to
``models/<name>.keras`` with its card ``models/<name>.json``. ``recalibrate`` redoes that fit for a shipped model.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import json
import logging
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from detector import (
    architectures,
    calibration,
    datasets,
    landmarks,
    metrics,
    model_card,
    self_blend_batches,
    weight_storage,
)
from detector.augment import NO_AUGMENTATION, AugmentationPolicy
from detector.config import AnalysisConfig
from detector.errors import ModelCardError

logger = logging.getLogger(__name__)

VALIDATION_DATA = "DFDC face crops, group-split validation set, one crop each"
EXTRA_REALS = (None, "utkface")
# Keras dtype policies a run may use. "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: measured
# 1.9 times faster a training step for VGG16 and 1.5-1.7 for ResNet50 on this machine's AVX512_BF16 cores, no gain
# for the compact networks or InceptionResNetV2 (bench/bench_architectures.py --precision, docs/DESIGN.md).
PRECISIONS = ("float32", "mixed_bfloat16")
# Each extra source of real faces in words, for the card's training data ("path (words)", as for DFDC).
EXTRA_REALS_WORDS = {"utkface": "UTKFace real face photos, except the quarter held out for testing"}


@dataclass(frozen=True)
class TrainingConfig:
    name: str
    architecture: str = "compact"
    input_size: int = 224
    resolution: int = 128
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 1e-3
    validation_percent: int = datasets.VALIDATION_PERCENT
    patience: int = 3
    seed: int = 1234
    limit: int | None = None
    init_weights: str | None = None
    run_folder: str = "runs"
    models_folder: str = str(model_card.MODELS_FOLDER)
    cache_folder: str = ".cache"
    command: str = ""
    # Training fakes: DFDC fake crops ("dfdc"), self-blends of the training reals ("sbi") or half each ("both");
    # extra real crops, all for training ("utkface"). See docs/DESIGN.md, "Self-blended training fakes (SBI)".
    fakes: str = "dfdc"
    extra_reals: str | None = None
    precision: str = "float32"
    # The augmentation a fresh run trains with (None: today's default); a resumed run keeps the one it started with.
    augmentation: AugmentationPolicy | None = None
    # Whose validation loss picks the best epoch, halves the rate and stops the run (SELECT_ON; None: "dfdc" for
    # a fresh run, and for a resumed one what it started with).
    select_on: str | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.fakes not in self_blend_batches.FAKE_SOURCES:
            raise ValueError(f"fakes must be one of {self_blend_batches.FAKE_SOURCES}, got {self.fakes!r}")
        if self.extra_reals not in EXTRA_REALS:
            raise ValueError(f"extra_reals must be one of {EXTRA_REALS}, got {self.extra_reals!r}")
        if self.select_on is not None and self.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be one of {tuple(SELECT_ON)}, got {self.select_on!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {self.patience}")


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


def _completed_epochs(log_path: Path) -> int:
    return len(_validation_losses(log_path))


def _validation_losses(log_path: Path) -> list[float]:
    if not log_path.is_file():
        return []
    with log_path.open(newline="") as handle:
        # A row cut short (the process stopped while writing it) has no validation loss: that epoch did not count.
        return [float(row["val_loss"]) for row in csv.DictReader(handle) if row.get("val_loss")]


def plateau_schedule(
    losses: Sequence[float], initial_rate: float, patience: int, factor: float = 0.5, least_rate: float = 1e-5
) -> tuple[float, bool]:
    """The learning rate for the next epoch, and whether to stop, from the validation losses of the epochs so far.

    Each epoch that does not lower the best loss halves the rate (down to ``least_rate``); ``patience`` of them in a
    row stop the run. A function of the run's log, not of a callback's memory: a run resumed in a later session
    slows down and stops exactly as one left running would (Keras's callbacks forget both on every ``fit``)."""
    rate, best, stalled = initial_rate, float("inf"), 0
    for loss in losses:
        if loss < best:
            best, stalled = loss, 0
        else:
            stalled += 1
            rate = max(rate * factor, least_rate)
    return rate, stalled >= patience


class PlateauSchedule(keras.callbacks.Callback):
    """Applies ``plateau_schedule`` to the run's history and each new epoch's validation loss."""

    def __init__(self, losses: Sequence[float], initial_rate: float, patience: int) -> None:
        super().__init__()
        self.losses = list(losses)
        self.initial_rate = initial_rate
        self.patience = patience

    def _apply(self) -> bool:
        rate, stop = plateau_schedule(self.losses, self.initial_rate, self.patience)
        self.model.optimizer.learning_rate = rate
        logger.info(
            "after %d epochs (best validation loss %.4f): learning rate %.3g%s",
            len(self.losses),
            min(self.losses, default=float("nan")),
            rate,
            ", stopping" if stop else "",
        )
        return stop

    def on_train_begin(self, logs: dict | None = None) -> None:
        # A run that should already have stopped is not trained at all (``train`` checks before ``fit``).
        self._apply()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.losses.append(float(logs["val_loss"]))
        if self._apply():
            self.model.stop_training = True


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


POLICY_FILE = "augmentation.json"


def _initial_weights_target(model: keras.Model, path: Path) -> tuple[keras.Model, dict]:
    """Where ``--init`` weights go: a legacy HDF5 file of a backbone alone (its layers do not include the
    classifier's head) into the nested backbone, by layer name; anything else into the whole model."""
    legacy = path.suffix in (".h5", ".hdf5") and not path.name.endswith(".weights.h5")
    backbones = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not (legacy and backbones):
        return model, {}
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"] if "layer_names" not in handle.attrs and "model_weights" in handle else handle
        names = {name.decode() if isinstance(name, bytes) else name for name in group.attrs.get("layer_names", [])}
    if model.layers[-1].name in names:
        return model, {}
    return backbones[0], {"by_name": True}


def load_initial_weights(model: keras.Model, path: Path) -> int:
    """Loads ``--init`` weights where they fit and returns how many float weight arrays it loaded.

    Keras pairs the file's layers with the model's by their order and class (not their names) and, with
    ``skip_mismatch``, only warns where the shapes differ; a file of another architecture would leave every array
    at its random start while the card said "fine-tuned from", so no match at all is an error and a partial match
    is logged by name. Every float array is filled with NaN first: the ones still NaN afterwards were skipped and
    get their start back. Other arrays (none in this project's architectures) are loaded but not counted.

    A legacy HDF5 file (``.h5``, as Keras applications ship their ImageNet weights, e.g.
    ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``) holds a backbone's layers by name, not this
    project's classifier: it is loaded by name into the nested backbone, and the head keeps its random start.
    """
    weights = model.weights
    fresh = [variable.numpy() for variable in weights]
    checked = [index for index, variable in enumerate(weights) if keras.backend.is_float_dtype(variable.dtype)]
    for index in checked:
        weights[index].assign(np.full(weights[index].shape, np.nan, fresh[index].dtype))
    target, options = _initial_weights_target(model, path)
    target.load_weights(path, skip_mismatch=True, **options)
    skipped = [index for index in checked if np.isnan(weights[index].numpy()).all()]
    for index in skipped:
        weights[index].assign(fresh[index])
    loaded = len(checked) - len(skipped)
    if loaded == 0:
        raise ValueError(f"--init {path}: none of the model's {len(checked)} weight arrays matched it")
    if skipped:
        names = ", ".join(weights[index].path for index in skipped[:5])
        logger.warning(
            "--init %s: %d of %d weight arrays loaded; %s%s keep their random start",
            path,
            loaded,
            len(checked),
            names,
            " ..." if len(skipped) > 5 else "",
        )
    else:
        logger.info("--init %s: all %d weight arrays loaded", path, loaded)
    return loaded


SELECT_ON = {
    "dfdc": "validation loss on the DFDC validation crops (real and fake)",
    "self_blends": "validation loss on the DFDC validation reals and self-blends of them (no fake labels used)",
}
SELECT_ON_FILE = "select_on.json"


def run_select_on(run: Path, fresh: bool, requested: str | None = None) -> str:
    """What a run's validation loss is measured on (``SELECT_ON``): ``requested`` (None: ``"dfdc"``) for a fresh
    run, written into the run folder; a resumed run keeps what it started with, since its log's losses are
    compared across epochs, and refuses another. Runs from before the choice existed selected on DFDC."""
    path = run / SELECT_ON_FILE
    if fresh:
        chosen = requested or "dfdc"
        path.write_text(json.dumps({"select_on": chosen}) + "\n", encoding="utf-8")
        return chosen
    started = json.loads(path.read_text(encoding="utf-8"))["select_on"] if path.is_file() else "dfdc"
    if requested is not None and started != requested:
        raise ValueError(f"{run} selects on {started}; continue it with --select-on {started.replace('_', '-')}")
    return started


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
        return CropBatches(train_images, train_labels, config.batch_size, policy, seed, shuffle=True)
    reals = train_images[train_labels == 0]
    if extra_images is not None:
        reals = np.concatenate([reals, extra_images])
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d reals", done, total),
    )
    dfdc_fakes = train_images[train_labels == 1] if config.fakes == "both" else None
    return self_blend_batches.SelfBlendBatches(
        reals, real_landmarks, config.batch_size, policy, seed, config.fakes, dfdc_fakes
    )


def _validation_batches(
    config: TrainingConfig, validation_images: np.ndarray, validation_labels: np.ndarray
) -> keras.utils.PyDataset:
    """The batches whose loss selects the best epoch (``config.select_on``), the same every epoch, unaugmented."""
    if config.select_on == "dfdc":
        return CropBatches(validation_images, validation_labels, 64, NO_AUGMENTATION, config.seed, shuffle=False)
    reals = validation_images[validation_labels == 0]
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d validation reals", done, total),
    )
    return self_blend_batches.SelfBlendBatches(
        reals, real_landmarks, 64, NO_AUGMENTATION, config.seed, fakes="sbi", fixed=True
    )


def model_precision(model: keras.Model) -> str:
    """The dtype policy a classifier from ``architectures.build_classifier`` computes with: its layers', which the
    saved file keeps (read from the preprocessing layer, since the output layer is float32 under every policy)."""
    return model.get_layer("scale").dtype_policy.name


def float32_copy(model: keras.Model, config: TrainingConfig) -> keras.Model:
    """The classifier ``config`` describes, computing in float32, with ``model``'s weights (which a mixed-precision
    model keeps in float32). What ships: bfloat16 arithmetic is fast only on CPUs with AVX512_BF16 or AMX, and a
    host without them would score several times slower or fall back to emulation."""
    with dtype_policy("float32"):
        copy = architectures.build_classifier(config.architecture, config.input_size, config.resolution)
    copy.set_weights(model.get_weights())
    return copy


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers built inside use the Keras dtype policy ``name``; the previous global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


SESSIONS_FILE = "sessions.jsonl"


def code_version() -> dict[str, Any]:
    """The project's git commit, and whether the working tree differed from it; ``commit`` is None outside git."""
    project = Path(__file__).resolve().parent.parent
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


def record_session(run: Path, config: TrainingConfig, epochs_done: int, action: str) -> list[dict[str, Any]]:
    """Appends this invocation (when, which code, after how many epochs, what it did) to the run's sessions file and
    returns all of them: a run resumed across sessions may have been trained by more than one version of the code,
    and its card says which."""
    entry = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **code_version(),
        "after_epoch": epochs_done,
        "action": action,
        "command": config.command,
    }
    path = run / SESSIONS_FILE
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train(config: TrainingConfig, resume: bool = False, export_only: bool = False) -> Path:
    """Trains (or resumes) a run and exports the best model with its card; returns the card's path."""
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
    train_images = datasets.decode_images(train_set.root, train_set.files, config.input_size, cache)
    validation_images = datasets.decode_images(validation_set.root, validation_set.files, config.input_size, cache)

    initial_epoch = 0
    if export_only and not (best_path.is_file() or last_path.is_file()):
        raise FileNotFoundError(f"nothing to export: no checkpoint in {run}")
    fresh = not export_only and not (resume and last_path.is_file())
    # What the run trains with and selects on: recorded by a fresh run, kept (and checked) by a continued one.
    policy = run_policy(run, fresh, requested=config.augmentation)
    config = dataclasses.replace(config, select_on=run_select_on(run, fresh, config.select_on))
    if export_only:
        model = None
    elif not fresh:
        model = keras.saving.load_model(last_path)
        if model_precision(model) != config.precision:
            raise ValueError(
                f"run {config.name!r} was started with --precision {model_precision(model)}; resume it with that"
            )
        initial_epoch = _completed_epochs(log_path)
        logger.info("resuming %s after epoch %d", config.name, initial_epoch)
    else:
        # A fresh start forgets an earlier run of the same name: its log and its sessions.
        for stale in (log_path, run / SESSIONS_FILE):
            stale.unlink(missing_ok=True)
        with dtype_policy(config.precision):
            model = architectures.build_classifier(config.architecture, config.input_size, config.resolution)
        if config.init_weights:
            load_initial_weights(model, Path(config.init_weights))
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss="binary_crossentropy",
            metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
        )

    losses = _validation_losses(log_path)
    _, stopped = plateau_schedule(losses, config.learning_rate, config.patience)
    if export_only or stopped or initial_epoch >= config.epochs:
        action = "export"
    else:
        action = "resume" if initial_epoch else "start"
    sessions = record_session(run, config, len(losses), action)
    if initial_epoch < config.epochs and not (export_only or stopped):
        training_batches = _training_batches(config, train_images, train_set.labels, initial_epoch, policy)
        # The batches hold what they need (for SBI, copies of the reals): let the full array go.
        del train_images
        validation_batches = _validation_batches(config, validation_images, validation_set.labels)
        callbacks = [
            keras.callbacks.CSVLogger(str(log_path), append=True),
            # Before the checkpoints, so that last.keras holds the rate the next epoch will use.
            PlateauSchedule(losses, config.learning_rate, config.patience),
            keras.callbacks.ModelCheckpoint(str(last_path)),
            keras.callbacks.ModelCheckpoint(
                str(best_path),
                monitor="val_loss",
                save_best_only=True,
                # A resumed run must not replace the best checkpoint with a worse first epoch.
                initial_value_threshold=min(losses, default=None),
            ),
        ]
        model.fit(
            training_batches,
            validation_data=validation_batches,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=2,
        )

    best = keras.saving.load_model(best_path if best_path.is_file() else last_path)
    extra_set = _load_extra_reals(config)
    train_count = len(train_set) + (len(extra_set) if extra_set is not None else 0)
    losses = _validation_losses(log_path)
    # best.keras holds the epoch of the lowest logged loss (the checkpoint only takes a loss below the log's best).
    exported_epoch = int(np.argmin(losses)) + 1 if best_path.is_file() and losses else len(losses)
    return export(
        best, config, validation_set, validation_images, len(losses), train_count, policy, sessions, exported_epoch
    )


def export(
    model: keras.Model,
    config: TrainingConfig,
    validation_set: datasets.CropSet,
    validation_images: np.ndarray,
    epochs_run: int,
    train_count: int,
    policy: AugmentationPolicy,
    sessions: Sequence[dict[str, Any]] = (),
    exported_epoch: int | None = None,
) -> Path:
    """Fits calibration and thresholds on half the validation split, measures on the other half
    (``calibration.fit_on_validation``), and writes ``models/<name>.keras`` and its card (with ``sessions``, the
    invocations that trained the run: ``record_session``; ``exported_epoch``, the epoch whose weights these are)."""
    trained_precision = model_precision(model)
    if trained_precision != "float32":
        model = float32_copy(model, config)
    probabilities = predict(model, validation_images, mirror=True)
    fitted = calibration.fit_on_validation(validation_set.labels, probabilities, validation_set.groups, VALIDATION_DATA)
    logger.info("validation: %s", fitted.metrics["validation"])
    data = "../shared/data/dfdc-faces (DFDC face crops, 224x224)"
    if config.extra_reals:
        data += f"; ../shared/data/{config.extra_reals} ({EXTRA_REALS_WORDS[config.extra_reals]})"
    training = {
        "data": data,
        "split": f"by group (source video): SHA-1 of the group modulo 100 < {config.validation_percent} is validation",
        "validation_percent": config.validation_percent,
        "train_count": train_count,
        "validation_count": len(validation_set),
        "resolution": config.resolution,
        "epochs_run": epochs_run,
        "exported_epoch": exported_epoch,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "augmentation": policy.describe(),
        "seed": config.seed,
        "limit": config.limit,
        "command": config.command,
        "fakes": config.fakes,
        "extra_reals": config.extra_reals,
        "precision": trained_precision,
        "selected_on": SELECT_ON[config.select_on or "dfdc"],
        "sessions": list(sessions),
    }
    if config.fakes != "dfdc":
        training["self_blend"] = {
            **dataclasses.asdict(self_blend_batches.DEFAULT_CONFIG),
            "mask": f"convex hull of the 468-point face mesh (landmarks v{landmarks.LANDMARK_VERSION})",
            "batches": "balanced: half reals, half fakes; the self-blends are of the same batch's reals",
        }
    start = f"fine-tuned from {config.init_weights}" if config.init_weights else "trained from scratch"
    description = f"{config.architecture} classifier of face crops, {start} on DFDC face crops."
    if config.fakes != "dfdc" or config.extra_reals:
        description = (
            f"{config.architecture} classifier of face crops, {start} on DFDC face crops "
            f"(fakes: {config.fakes}; extra reals: {config.extra_reals or 'none'})."
        )
    training["init_weights"] = config.init_weights
    return save_with_card(
        model,
        config.name,
        Path(config.models_folder),
        config.architecture,
        description,
        training,
        fitted.metrics,
        fitted.thresholds,
        fitted.calibration,
        limitations=training_limitations(config.fakes),
        test_time_flip=True,
    )


FAKES_SEEN = {
    "dfdc": "Trained on DFDC face swaps only: other manipulation methods may go unnoticed.",
    "sbi": "Trained on self-blended real faces, not on real deepfakes: it looks for blending traces, "
    "which face swaps leave but fully generated or re-enacted faces may not.",
    "both": "Trained on DFDC face swaps and self-blended real faces: manipulations that leave no blending "
    "trace (fully generated or re-enacted faces) may go unnoticed.",
}
MIXED_FAKES_START = "Averages models trained on"
FACES_ONLY = "Judges faces only: not audio, not fully generated video, not edits elsewhere in the frame."


def training_limitations(fakes: str) -> tuple[str, ...]:
    """What a model trained on these fakes cannot be trusted with, in a reviewer's words."""
    return (FAKES_SEEN[fakes], FACES_ONLY)


def fakes_by_model(cards: Sequence[model_card.ModelCard]) -> dict[str, str]:
    """Which fakes trained each single network inside these models: a single model's card says it in
    ``training.fakes``, an average's in ``training.fakes_by_model`` (so averages of averages still know)."""
    by_model: dict[str, str] = {}
    missing = []
    for card in cards:
        if "fakes_by_model" in card.training:
            by_model.update(card.training["fakes_by_model"])
        elif card.training.get("fakes") in FAKES_SEEN:
            by_model[card.name] = card.training["fakes"]
        else:
            missing.append(card.name)
    if missing:
        raise ModelCardError(f"the cards of {', '.join(missing)} do not say which fakes trained them (training.fakes)")
    return by_model


def average_limitations(cards: Sequence[model_card.ModelCard]) -> tuple[str, ...]:
    """The limitations of an average of these models, as one model's: one statement of the fakes its networks
    were trained on (not each member's, which would contradict each other: "DFDC only" beside "DFDC and
    self-blends"), then every other limitation a member states, once.
    """
    by_model = fakes_by_model(cards)
    kinds = set(by_model.values())
    if len(kinds) == 1:
        seen = FAKES_SEEN[kinds.pop()]
    else:
        swaps = ", ".join(name for name, fakes in by_model.items() if fakes in ("dfdc", "both"))
        blends = ", ".join(name for name, fakes in by_model.items() if fakes in ("sbi", "both"))
        seen = (
            f"{MIXED_FAKES_START} DFDC face swaps ({swaps}) and on self-blended real faces ({blends}): "
            "other manipulation methods, above all those that leave no blending trace (fully generated or "
            "re-enacted faces), may go unnoticed."
        )
    training_statements = set(FAKES_SEEN.values())
    others = (
        text
        for card in cards
        for text in card.limitations
        if text not in training_statements and not text.startswith(MIXED_FAKES_START)
    )
    return (seen, *dict.fromkeys(others))


def save_with_card(
    model: keras.Model,
    name: str,
    folder: Path,
    architecture: str,
    description: str,
    training: dict,
    measured: dict,
    thresholds: model_card.Thresholds | None = None,
    probability_calibration: model_card.Calibration | None = None,
    limitations: tuple[str, ...] | None = None,
    test_time_flip: bool = False,
) -> Path:
    """Writes ``folder/<name>.keras`` (without optimizer state) and its card; returns the card's path.

    The crop framing recorded in the card is the one the pipeline's cropping reproduces (``AnalysisConfig``'s
    defaults, measured on the training crops: docs/DESIGN.md, "Crop framing").
    """
    folder.mkdir(parents=True, exist_ok=True)
    weights = model_card.weights_path(name, folder)
    # The optimizer state is only needed to resume, which uses the run folder: leave it out of the product.
    model.save(weights, include_optimizer=False)
    framing = AnalysisConfig()
    card = model_card.ModelCard(
        name=name,
        architecture=architecture,
        version=datetime.date.today().isoformat(),
        description=description,
        preprocessing=model_card.Preprocessing(
            input_size=int(model.input_shape[1]),
            face_margin=framing.face_margin,
            face_detector=framing.detector_model,
            test_time_flip=test_time_flip,
        ),
        thresholds=thresholds or model_card.Thresholds(),
        training=training,
        metrics=measured,
        sha256=model_card.file_sha256(weights),
        keras_version=keras.__version__,
        file_megabytes=round(os.path.getsize(weights) / 1e6, 2),
        limitations=limitations or training_limitations("dfdc"),
        calibration=probability_calibration,
    )
    return model_card.write_card(card, folder)


def recalibrate(
    name: str,
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    target_precision: float = calibration.TARGET_PRECISION,
    method: str = calibration.DEFAULT_METHOD,
) -> model_card.ModelCard:
    """Fits calibration (``method``: "temperature" or "platt") and thresholds for a shipped model without
    retraining, and rewrites its card.

    Scores the DFDC validation split (the card's ``validation_percent``, else 15) with the model's raw outputs
    and replaces the card's calibration, thresholds and metrics; the weights are not touched, so their sha256
    (checked before and after) stays the one in the card.
    """
    folder = models_folder or model_card.models_folder()
    card = model_card.read_card(name, folder)
    weights = model_card.verified_weights(card, folder)
    model = weight_storage.load(weights)
    validation_set, images, percent = _validation_images(card, cache_folder)
    mirror = card.preprocessing.test_time_flip
    fitted = calibration.fit_on_validation(
        validation_set.labels,
        predict(model, images, mirror=mirror),
        validation_set.groups,
        VALIDATION_DATA,
        target_precision,
        method=method,
    )
    updated = dataclasses.replace(
        card,
        thresholds=fitted.thresholds,
        # How the stored weights compare with the float ones stays true: the weights did not change.
        metrics={**fitted.metrics, **{key: card.metrics[key] for key in ("storage",) if key in card.metrics}},
        calibration=fitted.calibration,
        training={**card.training, "validation_percent": percent},
    )
    if model_card.file_sha256(weights) != updated.sha256:
        raise ModelCardError(f"the weights of {name!r} changed while recalibrating")
    model_card.write_card(updated, folder)
    return updated


def combined_training_data(member_data: Iterable[str]) -> str:
    """The training data of an average: each source its members name, once, in the order first named.

    A member's ``training["data"]`` lists its sources separated by "; ", so members that share DFDC but differ in
    extra reals give "DFDC; UTKFace", not DFDC twice.
    """
    return "; ".join(dict.fromkeys(part.strip() for data in member_data for part in data.split(";") if part.strip()))


def combine(
    name: str,
    members: Sequence[str],
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    command: str = "",
) -> model_card.ModelCard:
    """Saves one model that averages the named shipped models (``architectures.average_of``) with a card of its
    own: calibration, thresholds and metrics fitted and measured for the average (``recalibrate``), not borrowed
    from a member. The members must share input size and crop framing; the result scores each crop mirrored too.
    """
    folder = models_folder or model_card.models_folder()
    cards = [model_card.read_card(member, folder) for member in members]
    framings = {(card.preprocessing.input_size, card.preprocessing.face_margin) for card in cards}
    if len(framings) != 1 or len({card.preprocessing.face_detector for card in cards}) != 1:
        raise ModelCardError(f"{', '.join(members)} do not share input size, crop margin and face detector")
    combined = architectures.average_of(
        {card.name: weight_storage.load(model_card.verified_weights(card, folder)) for card in cards}
    )
    training = {
        "data": combined_training_data(str(card.training.get("data", "not stated")) for card in cards),
        "members": [f"{card.name}: {card.description.rstrip('.')}" for card in cards],
        "validation_percent": int(cards[0].training.get("validation_percent", TrainingConfig.validation_percent)),
        "command": command,
    }
    limitations = average_limitations(cards)
    training["fakes_by_model"] = fakes_by_model(cards)
    if len(set(training["fakes_by_model"].values())) == 1:
        training["fakes"] = next(iter(training["fakes_by_model"].values()))
    save_with_card(
        combined,
        name,
        folder,
        f"average({', '.join(card.architecture for card in cards)})",
        f"the mean of {len(cards)} models' fake probabilities: {', '.join(members)}.",
        training,
        {},
        limitations=limitations,
        test_time_flip=True,
    )
    return recalibrate(name, folder, cache_folder)


def _validation_images(
    card: model_card.ModelCard, cache_folder: Path | None
) -> tuple[datasets.CropSet, np.ndarray, int]:
    """The DFDC validation split the card was measured on (its ``validation_percent``, else 15), decoded at the
    model's input size, and that percentage."""
    percent = int(card.training.get("validation_percent", TrainingConfig.validation_percent))
    validation_set, images = datasets.dfdc_validation(percent, card.preprocessing.input_size, cache_folder)
    return validation_set, images, percent


def quantize(
    name: str,
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    target_precision: float = calibration.TARGET_PRECISION,
    keep_float: bool = False,
) -> model_card.ModelCard:
    """Stores a shipped model's weights in 8 bits (``weight_storage.save_int8``) and rewrites its card.

    Both versions score the whole validation split; the card's ``metrics.storage`` records both ROC AUCs and how
    far any probability moved. Calibration, thresholds and every other metric are refitted and measured on the
    8-bit model, the one that is shipped. The float ``.keras`` file is removed unless ``keep_float``.
    """
    folder = models_folder or model_card.models_folder()
    card = model_card.read_card(name, folder)
    source = model_card.verified_weights(card, folder)
    if not source.name.endswith(weight_storage.KERAS_SUFFIX):
        raise ModelCardError(f"{name!r} is already stored as {source.name}")
    float_model = weight_storage.load(source)
    target = folder / f"{name}{weight_storage.INT8_SUFFIX}"
    stored = weight_storage.save_int8(float_model, target)
    small_model = weight_storage.load_int8(target)
    validation_set, images, percent = _validation_images(card, cache_folder)
    mirror = card.preprocessing.test_time_flip
    float_scores, small_scores = (
        predict(float_model, images, mirror=mirror),
        predict(small_model, images, mirror=mirror),
    )
    change = np.abs(small_scores - float_scores)
    labels = validation_set.labels
    storage = {
        "format": "8-bit weights, one scale per output channel, restored to float32 at load",
        **stored,
        "float32_file_megabytes": round(source.stat().st_size / 1e6, 2),
        "roc_auc_float32": float(metrics.classification_metrics(labels, float_scores)["roc_auc"]),
        "roc_auc_8bit": float(metrics.classification_metrics(labels, small_scores)["roc_auc"]),
        "largest_probability_change": float(change.max()),
        "mean_probability_change": float(change.mean()),
        "count": len(labels),
        "data": f"{VALIDATION_DATA}, the whole split, probabilities before calibration",
        "measured_by": "detector.train.quantize",
    }
    logger.info("8-bit storage of %s: %s", name, storage)
    # The weights changed a little, so the calibration is refitted, by the method the card had.
    method = card.calibration.method if card.calibration else calibration.DEFAULT_METHOD
    fitted = calibration.fit_on_validation(
        labels, small_scores, validation_set.groups, VALIDATION_DATA, target_precision, method=method
    )
    updated = dataclasses.replace(
        card,
        thresholds=fitted.thresholds,
        metrics={**fitted.metrics, "storage": storage},
        calibration=fitted.calibration,
        training={**card.training, "validation_percent": percent},
        sha256=model_card.file_sha256(target),
        file_megabytes=stored["file_megabytes"],
    )
    model_card.write_card(updated, folder)
    if not keep_float:
        source.unlink()
    return updated


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 64, mirror: bool = False) -> np.ndarray:
    """Fake probabilities ``(N,) float64`` for ``(N, S, S, 3) uint8`` crops, batched; with ``mirror``, the mean
    over each crop and its mirror image (the card's ``test_time_flip``, as ``FaceScorer`` scores)."""
    if mirror:
        return (predict(model, images, batch_size) + predict(model, images[:, :, ::-1], batch_size)) / 2
    outputs = [
        model.predict_on_batch(images[start : start + batch_size].astype(np.float32))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).ravel().astype(np.float64)
