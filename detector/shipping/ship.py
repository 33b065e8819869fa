"""From a trained network to a shipped model: ``models/<name>.keras`` (or ``.int8.npz``) and its card.

Every shipped model's calibration and decision thresholds are fitted on one half of the DFDC validation split (and,
asked for, of FF++'s validation groups too) and measured on the other (``calibrate.fit_on_validation``), whether it
was just trained (``train.export``), recalibrated (``python -m detector calibrate``), stored in 8 bits
(``quantize``) or made by averaging shipped models (``combine``). The card also states, in a reviewer's words, what
the model's training fakes leave it blind to (``training_limitations``, ``average_limitations``).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from detector.errors import ModelCardError
from detector.evaluation import metrics
from detector.models import model_card, weight_storage
from detector.shipping import calibrate
from detector.training import architectures, datasets, sources

logger = logging.getLogger(__name__)


FAKES_SEEN = {
    "dfdc": "Trained on DFDC face swaps only: other manipulation methods may go unnoticed.",
    "sbi": "Trained on self-blended real faces, not on real deepfakes: it looks for blending traces, "
    "which face swaps leave but fully generated or re-enacted faces may not.",
    "both": "Trained on DFDC face swaps and self-blended real faces: manipulations that leave no blending "
    "trace (fully generated or re-enacted faces) may go unnoticed.",
    "mixed": "Trained on DFDC face swaps, FaceForensics++ swaps and reenactments (Deepfakes, FaceSwap, Face2Face, "
    "NeuralTextures) and self-blended real faces: fully generated faces and methods unlike these may go unnoticed.",
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


# A card's record of a self-blend generator its run also trained with (``export.synthetic_fake_records``), and the
# kind of fake it names.
_GENERATOR_RECORDS = {"face_swaps": sources.FACE_SWAP, "reenactment_proxies": sources.REENACTMENT_PROXY}
# The ``--fakes`` choices whose runs trained on self-blends (``sbi`` only them, ``both`` half, ``mixed`` a share).
_SELF_BLENDING_FAKES = frozenset({"sbi", "both", "mixed"})


def trained_kinds(card: model_card.ModelCard) -> frozenset[str]:
    """Which of the benchmark's kinds of fake the networks inside a model trained on (``sources.FACE_SWAP``,
    ``REENACTMENT_PROXY``, ``FFPP_FAKES`` for its crop sets, and ``SELF_BLEND`` for its clips): a single network's
    card says it in ``training`` (``fakes``: a mixed run trained on FF++'s methods and self-blends;
    ``training.self_blend`` records the other generators), an average's in ``training.kinds_by_model``.
    An average written before that record, with a mixed member, cannot say which generators it saw: an error."""
    if "kinds_by_model" in card.training:
        return frozenset(kind for kinds in card.training["kinds_by_model"].values() for kind in kinds)
    if "fakes_by_model" in card.training:
        fakes = set(card.training["fakes_by_model"].values())
        if "mixed" in fakes:
            raise ModelCardError(
                f"the card of {card.name} does not record which fakes its mixed members trained on "
                "(training.kinds_by_model): combine it again"
            )
        return frozenset({sources.SELF_BLEND} if fakes & _SELF_BLENDING_FAKES else ())
    fakes = card.training.get("fakes")
    kinds = {sources.FFPP_FAKES} if fakes == "mixed" else set()
    if fakes in _SELF_BLENDING_FAKES:
        kinds.add(sources.SELF_BLEND)
    blends = card.training.get("self_blend") or {}
    kinds.update(kind for record, kind in _GENERATOR_RECORDS.items() if record in blends)
    return frozenset(kinds)


def kinds_by_model(cards: Sequence[model_card.ModelCard]) -> dict[str, list[str]]:
    """``trained_kinds`` of each single network inside these models (averages of averages keep their members')."""
    found: dict[str, list[str]] = {}
    for card in cards:
        if "kinds_by_model" in card.training:
            found.update(card.training["kinds_by_model"])
        else:
            found[card.name] = sorted(trained_kinds(card))
    return found


def average_limitations(cards: Sequence[model_card.ModelCard]) -> tuple[str, ...]:
    """The limitations of an average of these models, as one model's: one statement of the fakes its networks
    were trained on (not each member's, which would contradict each other: "DFDC only" beside "DFDC and
    self-blends"), then every other limitation a member states, once.
    """
    training_statements = set(FAKES_SEEN.values())
    others = (
        text
        for card in cards
        for text in card.limitations
        if text not in training_statements and not text.startswith(MIXED_FAKES_START)
    )
    return (fakes_statement(fakes_by_model(cards)), *dict.fromkeys(others))


def fakes_statement(by_model: Mapping[str, str]) -> str:
    """What an average's networks were trained on, in one statement, from each member's fakes (its card's
    ``training["fakes_by_model"]``, so that it can be checked without the members' cards)."""
    kinds = set(by_model.values())
    if len(kinds) == 1:
        seen = FAKES_SEEN[kinds.pop()]
    else:
        swaps = ", ".join(name for name, fakes in by_model.items() if fakes in ("dfdc", "both", "mixed"))
        blends = ", ".join(name for name, fakes in by_model.items() if fakes in ("sbi", "both", "mixed"))
        ffpp = ", ".join(name for name, fakes in by_model.items() if fakes == "mixed")
        if ffpp:
            seen = (
                f"{MIXED_FAKES_START} DFDC face swaps ({swaps}), on FaceForensics++ swaps and reenactments "
                f"(Deepfakes, FaceSwap, Face2Face, NeuralTextures: {ffpp}) and on self-blended real faces ({blends}): "
                "fully generated faces and methods unlike these may go unnoticed."
            )
        else:
            seen = (
                f"{MIXED_FAKES_START} DFDC face swaps ({swaps}) and on self-blended real faces ({blends}): "
                "other manipulation methods, above all those that leave no blending trace (fully generated or "
                "re-enacted faces), may go unnoticed."
            )
    return seen


def without_optimizer(model: keras.Model) -> keras.Model:
    """``model``, or a copy of it with the same weights and no optimizer when it was compiled with one.

    Keras 3 writes a compiled model's optimizer state into a ``.keras`` file whatever ``include_optimizer`` says
    (that argument only applies to legacy HDF5): for Adam twice the weights again, which no scorer reads. The copy
    is rebuilt from the model's configuration (``keras.models.clone_model`` would compile it again)."""
    if getattr(model, "optimizer", None) is None:
        return model
    bare = type(model).from_config(model.get_config())
    bare.set_weights(model.get_weights())
    return bare


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

    The crop framing recorded in the card is that of the training crops (``datasets.CROP_FACE_MARGIN``, measured:
    docs/DESIGN.md, "Crop framing"); the analysis reads it from the card and crops every face the same way.
    """
    folder.mkdir(parents=True, exist_ok=True)
    weights = model_card.weights_path(name, folder)
    # The optimizer state is only needed to resume, which uses the run folder: leave it out of the product.
    without_optimizer(model).save(weights)
    card = model_card.ModelCard(
        name=name,
        architecture=architecture,
        version=datetime.date.today().isoformat(),
        description=description,
        preprocessing=model_card.Preprocessing(
            input_size=int(model.input_shape[1]),
            face_margin=datasets.CROP_FACE_MARGIN,
            face_detector=datasets.CROP_FACE_DETECTOR,
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


CALIBRATION_SOURCES = ("dfdc", "ffpp")
# Card entries that hold figures in the calibrated probabilities (the benchmark's, the clips') or thresholds fitted
# on them: a new calibration makes them stale, so recalibrating drops them until the benchmark runs again.
CALIBRATED_EXTRA = ("video_thresholds_report_half",)


def ffpp_validation_scores(
    model: keras.Model, input_size: int, mirror: bool, cache_folder: Path | None
) -> calibrate.SourceScores:
    """The model's raw outputs on the FF++ validation groups (``sources.split_ffpp``), cut to the analysis framing
    first as training cuts them (``sources.FFPP_REFRAME``), with each crop's group and method."""
    from detector.training import sources  # here: the calibration functions below take a parameter of this name

    validation = sources.split_ffpp(sources.load_ffpp_faces())[1]
    crops = validation.crops
    images = datasets.decode_images(crops.root, crops.files, input_size, cache_folder, reframe=sources.FFPP_REFRAME)
    return calibrate.SourceScores(
        name="ffpp",
        data="FaceForensics++ crops (../shared/data/ffpp-faces), validation groups "
        f"({sources.FFPP_VALIDATION_PERCENT}%)",
        labels=np.asarray(crops.labels, np.int32),
        raw=predict(model, images, mirror=mirror),
        groups=crops.groups,
        kinds=validation.methods,
    )


def _other_sources(
    sources: Sequence[str], model: keras.Model, card: model_card.ModelCard, cache_folder: Path | None
) -> list[calibrate.SourceScores]:
    """The validation scores of the calibration sources besides DFDC (``CALIBRATION_SOURCES``)."""
    unknown = set(sources) - set(CALIBRATION_SOURCES)
    if "dfdc" not in sources or unknown:
        raise ValueError(f"calibration sources are dfdc and optionally ffpp, got {list(sources)}")
    if "ffpp" not in sources:
        return []
    return [
        ffpp_validation_scores(model, card.preprocessing.input_size, card.preprocessing.test_time_flip, cache_folder)
    ]


def _without_calibrated_figures(card: model_card.ModelCard, kept: dict) -> model_card.ModelCard:
    """The card without what a new calibration makes stale: the benchmark's figures (any metric not in ``kept``
    but the storage record), the video thresholds and their report (``CALIBRATED_EXTRA``). Says what it drops."""
    dropped = sorted(
        key
        for key in card.metrics
        if key not in kept and key != "storage" and not key.endswith(("_intervals", "_decisions"))
    )
    if dropped or card.video_thresholds:
        logger.warning(
            "%s: the benchmark figures (%s) and video thresholds were measured in the old calibration and are "
            "dropped; rerun `python -m detector benchmark --model %s --record --video`",
            card.name,
            ", ".join(dropped) or "none",
            card.name,
        )
    return dataclasses.replace(
        card,
        metrics={key: value for key, value in card.metrics.items() if key in kept or key == "storage"},
        video_thresholds={},
        extra={key: value for key, value in card.extra.items() if key not in CALIBRATED_EXTRA},
    )


def recalibrate(
    name: str,
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    target_precision: float = calibrate.TARGET_PRECISION,
    method: str = calibrate.DEFAULT_METHOD,
    sources: Sequence[str] = ("dfdc",),
) -> model_card.ModelCard:
    """Fits calibration (``method``: "temperature" or "platt") and thresholds for a shipped model without
    retraining, and rewrites its card.

    Scores the DFDC validation split (the card's ``validation_percent``, else 15) with the model's raw outputs
    and replaces the card's calibration, thresholds and metrics; the weights are not touched, so their sha256
    (checked before and after) stays the one in the card. With ``sources`` ("dfdc", "ffpp"), the calibration and
    thresholds are fitted on the calibration halves of DFDC's and FF++'s validation groups, weighted alike
    (``calibrate.fit_on_validation``). Figures measured in the old probabilities (the benchmark's, the clips')
    and the video thresholds fitted on them are dropped: rerun ``python -m detector benchmark --record --video``.
    """
    folder = models_folder or model_card.models_folder()
    card = model_card.read_card(name, folder)
    weights = model_card.verified_weights(card, folder)
    model = weight_storage.load(weights)
    validation_set, images, percent = _validation_images(card, cache_folder)
    mirror = card.preprocessing.test_time_flip
    others = _other_sources(sources, model, card, cache_folder)
    fitted = calibrate.fit_on_validation(
        validation_set.labels,
        predict(model, images, mirror=mirror),
        validation_set.groups,
        datasets.VALIDATION_DATA,
        target_precision,
        method=method,
        others=others,
    )
    updated = dataclasses.replace(
        _without_calibrated_figures(card, fitted.metrics),
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


def training_of_several(cards: Sequence[model_card.ModelCard]) -> dict:
    """What a model made of these models (an average of outputs or of weights) records of their training: each
    source once, the validation percentage, the fakes and kinds each network saw, and the fakes when all saw the
    same."""
    by_model = fakes_by_model(cards)
    training = {
        "data": combined_training_data(str(card.training.get("data", "not stated")) for card in cards),
        "validation_percent": int(cards[0].training.get("validation_percent", datasets.VALIDATION_PERCENT)),
        "fakes_by_model": by_model,
        "kinds_by_model": kinds_by_model(cards),
    }
    if len(set(by_model.values())) == 1:
        training["fakes"] = next(iter(by_model.values()))
    return training


def combine(
    name: str,
    members: Sequence[str],
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    command: str = "",
) -> model_card.ModelCard:
    """Saves one model that averages the named shipped models (``architectures.average_of``) with a card of its
    own: calibration, thresholds and metrics fitted and measured for the average (``recalibrate``), not borrowed
    from a member. The members must share the crop framing (not the input size); the result scores each crop
    mirrored too.
    """
    folder = models_folder or model_card.models_folder()
    cards = [model_card.read_card(member, folder) for member in members]
    # Input sizes may differ (``average_of`` resizes for the smaller); the crop itself must be the same.
    framings = {
        (card.preprocessing.face_margin, card.preprocessing.face_center_shift, card.preprocessing.face_detector)
        for card in cards
    }
    if len(framings) != 1:
        raise ModelCardError(f"{', '.join(members)} do not share crop margin, centre shift and face detector")
    combined = architectures.average_of(
        {card.name: weight_storage.load(model_card.verified_weights(card, folder)) for card in cards}
    )
    training = {
        "members": [f"{card.name}: {card.description.rstrip('.')}" for card in cards],
        "command": command,
        **training_of_several(cards),
    }
    limitations = average_limitations(cards)
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
    percent = int(card.training.get("validation_percent", datasets.VALIDATION_PERCENT))
    validation_set, images = datasets.dfdc_validation(percent, card.preprocessing.input_size, cache_folder)
    return validation_set, images, percent


def quantize(
    name: str,
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    target_precision: float = calibrate.TARGET_PRECISION,
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
        "data": f"{datasets.VALIDATION_DATA}, the whole split, probabilities before calibration",
        "measured_by": "detector.shipping.quantize",
    }
    logger.info("8-bit storage of %s: %s", name, storage)
    # The weights changed a little, so the calibration is refitted, by the method and on the sources the card had.
    method = card.calibration.method if card.calibration else calibrate.DEFAULT_METHOD
    sources = card.calibration.sources if card.calibration else ("dfdc",)
    fitted = calibrate.fit_on_validation(
        labels,
        small_scores,
        validation_set.groups,
        datasets.VALIDATION_DATA,
        target_precision,
        method=method,
        others=_other_sources(sources, small_model, card, cache_folder),
    )
    updated = dataclasses.replace(
        _without_calibrated_figures(card, fitted.metrics),
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
