"""Model cards: the JSON file beside every ``models/<name>.keras``.

The card is the single source of what code needs to use a model (input size, colour order, value range, crop
framing, decision thresholds) and of what a reviewer needs to trust it (training data, split, measured metrics and
how they were measured, sha256 of the weights, Keras version). Code reads these fields; it never assumes them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import ModelCardError, ModelNotFoundError
from detector.models import weight_storage

MODELS_FOLDER = Path(__file__).resolve().parents[2] / "models"


def models_folder() -> Path:
    """Where models live: ``$DETECTOR_MODELS`` when set (tests, other deployments), else ``models/``."""
    return Path(os.environ.get("DETECTOR_MODELS", MODELS_FOLDER))


@dataclass(frozen=True)
class Preprocessing:
    """What a crop must look like before it is fed to the model.

    ``face_margin`` is the crop's side over the face detector's box size, and ``face_detector`` the detector model
    that box comes from: together they reproduce the framing of the training crops (docs/DESIGN.md).
    ``test_time_flip``: each crop is scored as it is and mirrored left to right, and the two probabilities are
    averaged (the calibration and thresholds in the card were fitted on those averages).
    """

    input_size: int
    face_margin: float
    face_detector: str
    color_order: str = "RGB"
    value_range: tuple[float, float] = (0.0, 255.0)
    face_center_shift: float = 0.0
    test_time_flip: bool = False

    def __post_init__(self) -> None:
        if self.input_size < 16:
            raise ModelCardError(f"input_size must be at least 16, got {self.input_size}")
        if self.color_order != "RGB":
            raise ModelCardError(f"only RGB models are supported, the card says {self.color_order!r}")


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the model's (calibrated) fake probability."""

    fake: float = 0.5
    uncertain_low: float = 0.5
    chosen_on: str = "default 0.5: not yet chosen from validation data"

    def __post_init__(self) -> None:
        if not 0.0 <= self.uncertain_low <= self.fake <= 1.0:
            raise ModelCardError(f"thresholds must satisfy 0 <= uncertain_low <= fake <= 1, got {self}")


CALIBRATION_METHODS = ("temperature", "platt")
# The method a new calibration is fitted with (``detector.shipping.calibrate``); each card names its own.
DEFAULT_CALIBRATION_METHOD = "platt"


@dataclass(frozen=True)
class Calibration:
    """How the model's raw probabilities are turned into calibrated ones: ``sigmoid(logit(p) / temperature + bias)``.

    ``method`` "temperature" (Guo et al., 2017; ``bias`` 0) keeps the ranking (ROC AUC is unchanged) and fixes
    over- or under-confidence: a temperature above 1 pulls probabilities towards 0.5. "platt" (Platt, 1999: a
    logistic regression on the logit, written here as a temperature and a bias) also moves every probability up
    or down, which a model that calls too many crops fake (or real) needs; the ranking is kept too. ``fitted_on``
    says which data they were fitted on; the ``*_before`` / ``*_after`` numbers are measured on ``measured_on``,
    data that played no part in the fit.
    """

    temperature: float
    fitted_on: str
    fitted_count: int
    measured_on: str
    log_loss_before: float
    log_loss_after: float
    ece_before: float
    ece_after: float
    method: str = "temperature"
    bias: float = 0.0
    # The sources whose validation crops (calibration half) fitted it: "dfdc", and "ffpp" for a mixed fit
    # (detector.shipping.calibrate.fit_on_validation with more sources).
    sources: tuple[str, ...] = ("dfdc",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        if not self.sources:
            raise ModelCardError("a calibration is fitted on at least one source")
        if self.method not in CALIBRATION_METHODS:
            raise ModelCardError(
                f"calibration method must be one of {CALIBRATION_METHODS}, the card says {self.method!r}"
            )
        if not math.isfinite(self.bias) or (self.method == "temperature" and self.bias != 0.0):
            raise ModelCardError(f"a {self.method} calibration cannot have a bias of {self.bias}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ModelCardError(f"the calibration temperature must be a positive number, got {self.temperature}")


@dataclass(frozen=True)
class ModelCard:
    name: str
    architecture: str
    version: str
    description: str
    preprocessing: Preprocessing
    thresholds: Thresholds
    training: dict[str, Any]
    metrics: dict[str, Any]
    sha256: str
    keras_version: str
    file_megabytes: float
    limitations: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # None: the raw probabilities are used as they are (cards written before calibration existed).
    calibration: Calibration | None = None
    # A whole video's thresholds, one per aggregation strategy, fitted on clips (``detector.shipping.
    # video_thresholds``); a strategy without them decides videos by ``thresholds``, which were fitted on crops.
    video_thresholds: dict[str, Thresholds] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        try:
            preprocessing = Preprocessing(
                **{
                    **data["preprocessing"],
                    "value_range": tuple(data["preprocessing"].get("value_range", (0.0, 255.0))),
                }
            )
            return cls(
                name=data["name"],
                architecture=data["architecture"],
                version=str(data["version"]),
                description=data["description"],
                preprocessing=preprocessing,
                thresholds=Thresholds(**data.get("thresholds", {})),
                training=dict(data["training"]),
                metrics=dict(data["metrics"]),
                sha256=data["sha256"],
                keras_version=data["keras_version"],
                file_megabytes=float(data["file_megabytes"]),
                limitations=tuple(data.get("limitations", ())),
                extra=dict(data.get("extra", {})),
                calibration=Calibration(**data["calibration"]) if data.get("calibration") else None,
                video_thresholds={
                    strategy: Thresholds(**values) for strategy, values in data.get("video_thresholds", {}).items()
                },
            )
        except (KeyError, TypeError) as error:
            raise ModelCardError(
                f"model card {data.get('name', '?')} is missing or has a bad field: {error}"
            ) from error

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"]["value_range"] = list(self.preprocessing.value_range)
        data["limitations"] = list(self.limitations)
        if self.calibration is not None:
            data["calibration"]["sources"] = list(self.calibration.sources)
        if not self.video_thresholds:
            del data["video_thresholds"]
        return data

    def thresholds_for_videos(self, strategy: str) -> Thresholds:
        """The thresholds a whole video aggregated by ``strategy`` is decided with: fitted on clips where the card
        has them, else the crops' (``chosen_on`` says which)."""
        return self.video_thresholds.get(strategy, self.thresholds)


# What ``benchmark --record`` writes beside a set's figures in ``metrics``: whether this model trained on the set's
# kind ("no", or "yes: ..." for a mixed run that trained with the generator of the benchmark's swaps or
# reenactments, or on FF++; for the clips, whose fakes mix methods, "partly: ..." when some of them were made by a
# generator it trained with). Crop sets recorded before it have no such entry: none of those models trained on any.
TRAINED_ON_KIND = "trained_on_this_kind"


def trained_on_kind(measurement: Mapping[str, Any]) -> bool:
    """Whether a recorded measurement is of fakes made the way some of the model's training fakes were, so that it
    says nothing about methods the model never saw."""
    return str(measurement.get(TRAINED_ON_KIND, "no")).startswith("yes")


def limitations_of(cards: Sequence[ModelCard]) -> tuple[str, ...]:
    """The limitations of models scored together, each statement once; one that only some of them state names
    those models, so that "DFDC only" from one and "DFDC and self-blends" from another do not read as one claim.
    """
    holders: dict[str, list[str]] = {}
    for card in cards:
        for limitation in card.limitations:
            holders.setdefault(limitation, []).append(card.name)
    return tuple(
        text if len(names) == len(cards) else f"{text.rstrip('.')} ({', '.join(names)})."
        for text, names in holders.items()
    )


def card_path(name: str, folder: Path | None = None) -> Path:
    folder = folder or models_folder()
    return folder / f"{name}.json"


def weights_path(name: str, folder: Path | None = None) -> Path:
    """The model's weights file: ``<name>.keras``, or ``<name>.int8.npz`` (8-bit, see ``weight_storage``) where
    only that one exists."""
    folder = folder or models_folder()
    for suffix in weight_storage.SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return folder / f"{name}{weight_storage.KERAS_SUFFIX}"


def verified_weights(card: ModelCard, folder: Path | None = None) -> Path:
    """The weights file of ``card``'s model, after checking that it exists and that its sha256 is the card's."""
    path = weights_path(card.name, folder)
    if not path.is_file():
        raise ModelCardError(f"model {card.name!r} has a card but no weights file {path}")
    digest = file_sha256(path)
    if digest != card.sha256:
        raise ModelCardError(
            f"the weights of {card.name!r} do not match its card (sha256 {digest[:12]}... vs {card.sha256[:12]}...): "
            "the file was changed or damaged"
        )
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(name: str, folder: Path | None = None) -> ModelCard:
    folder = folder or models_folder()
    path = card_path(name, folder)
    if not path.is_file():
        raise ModelNotFoundError(
            f"no model named {name!r}: {path} is missing (available: {', '.join(available_models(folder)) or 'none'})"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelCardError(f"model card {path} is not valid JSON: {error}") from error
    return ModelCard.from_dict(data)


def write_card(card: ModelCard, folder: Path | None = None) -> Path:
    folder = folder or models_folder()
    path = card_path(card.name, folder)
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return path


def available_models(folder: Path | None = None) -> list[str]:
    """Names of the models that have both weights and a card, sorted."""
    folder = folder or models_folder()
    if not folder.is_dir():
        return []
    names = {weight_storage.model_name(path) for path in folder.iterdir()} - {None}
    return sorted(name for name in names if card_path(name, folder).is_file())


def default_model(folder: Path | None = None) -> str:
    """The model whose card says ``"default": true`` in ``extra``, else the first available one."""
    folder = folder or models_folder()
    names = available_models(folder)
    if not names:
        raise ModelNotFoundError(
            f"no trained model in {folder}: each needs <name>.keras (or <name>.int8.npz) and <name>.json"
        )
    for name in names:
        if read_card(name, folder).extra.get("default"):
            return name
    return names[0]
