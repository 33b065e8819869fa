"""Words and choices for showing a result to a person: pure functions, no user interface.

The page (``streamlit_app.py``) only lays these out. Everything a reviewer reads about a number (what it means,
which threshold applied, where it was measured) is written here, so that it can be tested and reused by other
front ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector import errors
from detector.charts import person_label
from detector.model_card import ModelCard
from detector.types import FaceScore, Verdict, VerdictLabel, VideoInfo, VideoResult

STRATEGY_EXPLANATIONS: dict[str, str] = {
    "mean": "Average of all frames: every frame counts the same.",
    "median": "Middle value of all frames: a few odd frames (blur, a turned head) do not move it.",
    "confident": "Trusts the frames where the model is sure, when there are enough of them; otherwise the "
    "average. Catches fakes that show only in some frames.",
}

# What browsers play inside a <video> element: H.264, VP9 and AV1 in MP4 (QuickTime .mov and .m4v are the same
# ISO file format, served as video/mp4), and VP8, VP9 and AV1 in WebM. HEVC plays only in some browsers, MPEG-4
# Part 2 and Motion JPEG in none; AVI and Matroska are not web containers.
BROWSER_CODECS: dict[str, frozenset[str]] = {
    "mp4": frozenset({"h264", "vp9", "av1"}),
    "mov": frozenset({"h264", "vp9", "av1"}),
    "m4v": frozenset({"h264", "vp9", "av1"}),
    "webm": frozenset({"vp8", "vp9", "av1"}),
}
_MIME_TYPES = {"mp4": "video/mp4", "mov": "video/mp4", "m4v": "video/mp4", "webm": "video/webm"}

CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "H.265 (HEVC)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "mjpeg": "Motion JPEG",
    "prores": "ProRes",
}
CONTAINER_NAMES = {"matroska": "MKV", "mov": "MOV (QuickTime)", "jpeg": "JPEG", "png": "PNG", "webp": "WebP"}

# How much of the progress bar each stage of ``pipeline.analyze`` fills: looking for faces dominates.
_STAGE_SPANS = {"reading": (0.0, 0.05), "faces": (0.05, 0.9), "scoring": (0.9, 1.0)}

_ERROR_HINTS: tuple[tuple[type[errors.DetectorError], str], ...] = (
    (
        errors.UnreadableVideoError,
        "Check that the file plays in a video player. If it does, export it again as MP4 and upload that copy.",
    ),
    (errors.VideoTooLargeError, "Cut the clip down to the part that shows the face, or compress it."),
    (errors.NoFaceFoundError, "The checker judges faces only: try a clip in which a face is clearly visible."),
    (
        errors.ModelNotFoundError,
        "The checker's model files are missing: ask the person who maintains the checker to install them.",
    ),
    (
        errors.ModelCardError,
        "The checker's model files are damaged or do not fit together: ask the person who maintains the checker. "
        "If you chose several models, try one at a time.",
    ),
)

_METRIC_EXPLANATIONS = {
    "roc_auc": ("ROC AUC", "how well the model ranks fake crops above real ones (1 is perfect, 0.5 a coin toss)"),
    "accuracy": ("Accuracy", "share of crops labelled correctly at threshold {threshold}"),
    "balanced_accuracy": (
        "Balanced accuracy",
        "accuracy averaged over fake and real crops, so that the larger group does not dominate",
    ),
    "log_loss": ("Log loss", "penalises confident mistakes; lower is better, 0.69 is a coin toss"),
    "equal_error_rate": (
        "Equal error rate",
        "the error rate at the threshold where real crops called fake and fake crops called real are equally "
        "common; lower is better, 0.5 is a coin toss",
    ),
    "average_precision": (
        "Average precision",
        "how cleanly fake crops come first when all crops are sorted by score; 1 is perfect, the share of fakes "
        "(about half here) is a coin toss",
    ),
    "expected_calibration_error": (
        "Expected calibration error",
        "how far the stated probabilities are from how often they come true; 0 is perfect, 0.05 means off by "
        "about 5 points",
    ),
}
CALIBRATED_MEANING = (
    "adjusted on DFDC validation crops (about half of them fake, none of them among those measured here) so "
    "that there they mean what they say: of the crops given 70%, about 70 in 100 were fake. On other footage "
    "they can be less exact (see the other measurements)"
)
# The decision rates of a card's "decisions" measurement: (sentence with {value} as a percentage).
_DECISION_EXPLANATIONS = {
    "false_positive_rate": "Real crops wrongly called “Likely manipulated”: {value}",
    "false_negative_rate": "Fake crops wrongly called “No sign of manipulation found”: {value}",
    "uncertain_share": "Crops left “Inconclusive”: {value}",
    "precision_fake": "When it says “Likely manipulated”, it is right {value} of the time",
    "precision_real": "When it says “No sign of manipulation found”, it is right {value} of the time",
}
_METRIC_CONTEXT_KEYS = frozenset(
    {"data", "measured_by", "command", "count", "count_fake", "count_real", "threshold", "unit"}
)
_METRIC_HIDDEN_KEYS = frozenset(
    {"uncertain_share_real", "uncertain_share_fake", "count_called_fake", "count_called_real", "method"}
)

_TRAINING_LABELS = {
    "data": "Training data",
    "split": "Split into training and validation",
    "train_count": "Training face crops",
    "validation_count": "Validation face crops",
    "resolution": "Working resolution",
    "augmentation": "Augmentation",
    "epochs_run": "Epochs trained",
    "exported_epoch": "Weights from epoch",
    "selected_on": "Best epoch chosen by",
    "fakes": "Training fakes",
    "extra_reals": "Extra real faces",
    "init_weights": "Started from",
    "members": "Models averaged",
}
_TRAINING_VALUE_WORDS = {
    "fakes": {
        "dfdc": "DFDC fake crops",
        "sbi": "self-blended real faces (SBI), no real deepfakes",
        "both": "half DFDC fake crops, half self-blended real faces (SBI)",
    },
    "extra_reals": {"utkface": "UTKFace photos (../shared/data/utkface)"},
}
_TRAINING_HIDDEN = frozenset(
    {
        "command",
        "seed",
        "limit",
        "batch_size",
        "learning_rate",
        "validation_percent",
        "self_blend",
        "precision",
        "fakes_by_model",  # the limitations say it in words
        "sessions",  # which code trained it, when: for whoever reproduces it
    }
)


@dataclass(frozen=True)
class PersonFaces:
    """One person's faces to show: the most suspicious first, at most a share of the gallery."""

    track_id: int
    label: str
    verdict: Verdict
    faces: tuple[FaceScore, ...]
    total: int


def verdict_tone(verdict: Verdict) -> str:
    """``"fake"``, ``"real"`` or ``"uncertain"``: the colour the verdict is shown in (red, green, grey)."""
    return {VerdictLabel.FAKE: "fake", VerdictLabel.REAL: "real", VerdictLabel.UNCERTAIN: "uncertain"}[verdict.label]


def verdict_headline(verdict: Verdict) -> str:
    """The verdict in plain words with its probability: ``"Likely manipulated — fake probability 0.87"``."""
    if verdict.fake_probability is None:
        return verdict.label.plain_words
    return f"{verdict.label.plain_words} — fake probability {verdict.fake_probability:.2f}"


def probability_explanation(verdict: Verdict, fake_threshold: float, uncertain_low: float) -> str:
    """One paragraph: what the fake probability is and which thresholds were in force."""
    fake, real, unsure = (label.plain_words for label in (VerdictLabel.FAKE, VerdictLabel.REAL, VerdictLabel.UNCERTAIN))
    if uncertain_low < fake_threshold:
        bands = (
            f"At {fake_threshold:.2f} or above the checker says “{fake}”, from {uncertain_low:.2f} up to "
            f"{fake_threshold:.2f} “{unsure}”, below {uncertain_low:.2f} “{real}”."
        )
    else:
        bands = f"At {fake_threshold:.2f} or above the checker says “{fake}”, below it “{real}”."
    scale = "The fake probability is the model's estimate from 0 (looks real) to 1 (looks manipulated)"
    if verdict.fake_probability is None:
        return f"{scale}. There was too little to judge here, so no probability is given. {bands}"
    frames = "frame" if verdict.frames_used == 1 else "frames"
    return (
        f"{scale}, combined over {verdict.frames_used} {frames} with a usable face (“{verdict.strategy}” "
        f"strategy). {bands}"
    )


def _format_name(value: str, names: Mapping[str, str]) -> str:
    return names.get(value.lower(), value.upper()) if value else "unknown"


def browser_can_play(info: VideoInfo) -> bool:
    """Whether a web browser plays this video's codec in this container."""
    return info.codec.lower() in BROWSER_CODECS.get(info.container.lower(), frozenset())


def video_mime_type(info: VideoInfo) -> str:
    """The MIME type to serve a playable video with (``video/mp4`` or ``video/webm``)."""
    return _MIME_TYPES.get(info.container.lower(), "video/mp4")


def playback_note(info: VideoInfo) -> str:
    """Why the video is not shown in the page, for one the browser cannot play."""
    return (
        f"This video is {_format_name(info.codec, CODEC_NAMES)} in {_format_name(info.container, CONTAINER_NAMES)}, "
        "which web browsers cannot play, so it is not shown here. The analysis above is not affected. To watch it "
        "here, make the annotated video below (it is re-encoded so that browsers play it), or open the file in a "
        "desktop video player such as VLC."
    )


def video_format(info: VideoInfo) -> str:
    """The codec and container in words: ``"H.264 in MP4"`` (``"H.264"`` when the container is not known).

    A photo: ``"JPEG photo"``.
    """
    if info.is_photo:
        return f"{_format_name(info.container, CONTAINER_NAMES)} photo"
    codec = _format_name(info.codec, CODEC_NAMES)
    return f"{codec} in {_format_name(info.container, CONTAINER_NAMES)}" if info.container else codec


def person_summary(track_id: int, verdict: Verdict) -> str:
    """One line per person: ``"Person 2: Likely manipulated, in 27 of 32 frames"``.

    The count is of the frames that agree with the verdict: at or above the threshold for "Likely manipulated",
    below it for "No sign of manipulation found".
    """
    label, words = person_label(track_id), verdict.label.plain_words
    used, above = verdict.frames_used, verdict.frames_above_threshold
    if verdict.fake_probability is None:
        frames = "frame" if used == 1 else "frames"
        return f"{label}: {words}, a usable face in only {used} {frames}"
    if verdict.label is VerdictLabel.FAKE:
        return f"{label}: {words}, in {above} of {used} frames"
    if verdict.label is VerdictLabel.REAL:
        return f"{label}: {words}, in {used - above} of {used} frames"
    return f"{label}: {words}, {above} of {used} frames look manipulated"


def video_summary(result: VideoResult) -> str:
    """Size, length and format of the video, and how many frames were looked at and held a usable face."""
    info = result.info
    examined = len(result.frames)
    with_face = sum(1 for frame in result.frames if frame.faces)
    if info.is_photo:
        shows = "a face the model could judge" if with_face else "no face the model could judge"
        return f"{info.width} × {info.height} pixels, {video_format(info)}. It shows {shows}."
    return (
        f"{info.width} × {info.height} pixels, {info.duration_seconds:.1f} seconds at {info.fps:.3g} frames per "
        f"second, {_format_name(info.codec, CODEC_NAMES)} in {_format_name(info.container, CONTAINER_NAMES)}. "
        f"{examined} frames were examined; {with_face} of them showed a face the model could judge."
    )


def single_frame_scores(result: VideoResult) -> list[str]:
    """For a result of one frame (a photo), where a chart would show one point: each face's score in words.

    ``["Person 1: fake probability 0.87"]``, in person order; empty when the frame held no scored face.
    """
    if len(result.frames) != 1:
        raise ValueError(f"expected a result of one frame, got {len(result.frames)}")
    faces = sorted(result.frames[0].faces, key=lambda face: face.track_id)
    return [f"{person_label(face.track_id)}: fake probability {face.fake_probability:.2f}" for face in faces]


def face_gallery(result: VideoResult, max_faces: int = 24) -> list[PersonFaces]:
    """The faces to show, grouped by person, the most suspicious person and face first.

    At most ``max_faces`` in all: each person gets an equal share (at least one face). Only faces that have a
    crop in ``result.crops`` are listed.
    """
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    tracks = [track for track in result.tracks if track.scores]
    if not tracks:
        return []
    share = max(1, max_faces // len(tracks))

    def suspicion(track_scores: tuple[FaceScore, ...], verdict: Verdict) -> tuple[float, float]:
        judged = -1.0 if verdict.fake_probability is None else verdict.fake_probability
        return (judged, max(score.fake_probability for score in track_scores))

    people = []
    for track in sorted(tracks, key=lambda track: suspicion(track.scores, track.verdict), reverse=True):
        with_crop = [score for score in track.scores if (score.frame_index, score.track_id) in result.crops]
        ranked = sorted(with_crop, key=lambda score: (-score.fake_probability, score.frame_index))
        people.append(
            PersonFaces(track.track_id, person_label(track.track_id), track.verdict, tuple(ranked[:share]), len(ranked))
        )
    return people


def face_caption(score: FaceScore) -> str:
    """The caption under a face thumbnail: its fake probability and when it appears."""
    return f"{score.fake_probability:.2f} at {score.time_seconds:.1f} s"


def _format_value(value: Any) -> str:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return "; ".join(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) else str(value)
    return str(value)


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _interval_text(intervals: Mapping[str, Any], key: str) -> str:
    # The bootstrap range of the calibration error is biased upward (resampling only widens the bins' gaps) and
    # can miss the number itself: it would confuse more than it tells, so it is not shown.
    bounds = None if key == "expected_calibration_error" else intervals.get(key)
    if isinstance(bounds, list | tuple) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds):
        return f" (95% range {bounds[0]:.3f} to {bounds[1]:.3f})"
    return ""


def _measurement_context(name: str, measurement: Mapping[str, Any]) -> str:
    context = f"{name.replace('_', ' ').capitalize()}"
    if "data" in measurement:
        context += f", measured on {measurement['data']}"
    if "count" in measurement:
        context += f" ({measurement['count']:,} {measurement.get('unit', 'face crops')}"
        if "count_fake" in measurement and "count_real" in measurement:
            context += f": {measurement['count_fake']:,} fake, {measurement['count_real']:,} real"
        context += ")"
    if "measured_by" in measurement:
        context += f", by {measurement['measured_by']}"
    return context + ":"


def _decision_lines(decisions: Mapping[str, Any]) -> list[str]:
    lines = []
    fake, low = decisions.get("fake_threshold"), decisions.get("uncertain_low")
    if isinstance(fake, int | float) and isinstance(low, int | float):
        lines.append(
            f"- Thresholds: “Likely manipulated” from {fake:.3f}, “No sign of manipulation found” under {low:.3f}, "
            "“Inconclusive” in between."
        )
    for key, value in decisions.items():
        if key in _METRIC_CONTEXT_KEYS or key in _METRIC_HIDDEN_KEYS or key in ("fake_threshold", "uncertain_low"):
            continue
        if key in _DECISION_EXPLANATIONS and isinstance(value, int | float):
            lines.append(f"- {_DECISION_EXPLANATIONS[key].format(value=_percent(value))}.")
        else:
            lines.append(f"- {key.replace('_', ' ').capitalize()}: {_format_value(value)}")
    return lines


def _split_line(split: Mapping[str, Any]) -> str | None:
    calibration_count, report_count = split.get("calibration_count"), split.get("report_count")
    if not isinstance(calibration_count, int) or not isinstance(report_count, int):
        return None
    return (
        "How these numbers were kept honest: the validation videos were split in two halves; one half "
        f"({calibration_count:,} crops) set the calibration and the thresholds, the other ({report_count:,} crops, "
        "never used to fit anything) gave every DFDC number above."
    )


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A model card's measured metrics as sentences, each saying what the number means and what it was measured on.

    ``metrics`` maps a measurement's name (``"validation"``) to its numbers and context, as ``train.export`` and
    ``calibration.fit_on_validation`` write them: ``<name>_intervals`` (bootstrap ranges) are shown beside the
    numbers of ``<name>``, ``decisions`` and ``<name>_decisions`` (``evaluate --record``) as the rates a reviewer
    meets, ``validation_split`` as one sentence.
    Other shapes are listed as they are.
    """
    lines: list[str] = []
    split_line = None
    for name, measurement in metrics.items():
        if not isinstance(measurement, Mapping):
            lines.append(f"{name.replace('_', ' ').capitalize()}: {_format_value(measurement)}")
            continue
        if name.endswith("_intervals") and name.removesuffix("_intervals") in metrics:
            continue
        if name == "validation_split":
            split_line = _split_line(measurement)
            if split_line is not None:
                continue
        if name.endswith("_decisions"):
            lines.append(
                _measurement_context(f"{name.removesuffix('_decisions')}, at the card's thresholds", measurement)
            )
        else:
            lines.append(_measurement_context(name, measurement))
        if name == "decisions" or name.endswith("_decisions"):
            lines.extend(_decision_lines(measurement))
            continue
        intervals = metrics.get(f"{name}_intervals", {})
        intervals = intervals if isinstance(intervals, Mapping) else {}
        threshold = measurement.get("threshold")
        threshold_text = _format_value(threshold) if threshold is not None else "0.5"
        for key, value in measurement.items():
            if key in _METRIC_CONTEXT_KEYS:
                continue
            if key == "probabilities" and isinstance(value, str) and value.startswith("calibrated"):
                lines.append(f"- Probabilities {value}: {CALIBRATED_MEANING}.")
            elif key in _METRIC_EXPLANATIONS:
                title, meaning = _METRIC_EXPLANATIONS[key]
                shown = "not defined (one class only)" if value is None else _format_value(value)
                shown += _interval_text(intervals, key)
                lines.append(f"- {title} {shown}: {meaning.format(threshold=threshold_text)}.")
            else:
                lines.append(f"- {key.replace('_', ' ').capitalize()}: {_format_value(value)}")
    if split_line is not None:
        lines.append(split_line)
    return lines


def markdown_blocks(lines: list[str]) -> str:
    """Lines as Markdown: ``"- "`` lines are list items, any other line a paragraph of its own (Markdown would
    otherwise fold a line that follows a list item into that item)."""
    blocks: list[str] = []
    for line in lines:
        if blocks and not line.startswith("- "):
            blocks.append("")
        blocks.append(line)
    return "\n".join(blocks)


def _training_value(key: str, value: Any) -> str:
    if key == "resolution" and isinstance(value, int):
        return f"{value} px (each face crop is shrunk to {value}x{value} before the network sees it)"
    words = _TRAINING_VALUE_WORDS.get(key, {})
    return words[value] if isinstance(value, str) and value in words else _format_value(value)


def training_lines(training: Mapping[str, Any]) -> list[str]:
    """What a model was trained on, as ``"Label: value"`` lines; run mechanics (seed, command) are left out."""
    lines = [
        f"{label}: {_training_value(key, training[key])}"
        for key, label in _TRAINING_LABELS.items()
        if training.get(key) is not None
    ]
    for key, value in training.items():
        if key not in _TRAINING_LABELS and key not in _TRAINING_HIDDEN and value is not None:
            lines.append(f"{key.replace('_', ' ').capitalize()}: {_format_value(value)}")
    return lines


def error_hint(error: errors.DetectorError) -> str:
    """What the person can do about an error the checker reported."""
    for kind, hint in _ERROR_HINTS:
        if isinstance(error, kind):
            return hint
    return "Try another copy of the video; if the problem stays, tell the person who maintains the checker."


def no_model_message(folder: Path) -> str:
    """What to say when no trained model is installed, and how to get one."""
    return (
        "No trained model is installed, so the checker cannot judge videos yet. Whoever maintains the checker can "
        "train one with `python -m detector train --name compact_v1` (this writes `compact_v1.keras` and its "
        f"model card `compact_v1.json` to `models/`), or copy a trained model and its card into `{folder}`."
    )


def overall_progress(stage: str, fraction: float) -> float:
    """The whole analysis's progress in [0, 1] from one stage's ``(stage, fraction)`` progress report."""
    start, end = _STAGE_SPANS.get(stage, (0.0, 1.0))
    return start + (end - start) * min(1.0, max(0.0, fraction))


def report_file_name(upload_name: str, extension: str) -> str:
    """The download's file name: ``clip.mp4`` -> ``clip-deepfake-check.json``."""
    stem = Path(upload_name).stem or "video"
    return f"{stem}-deepfake-check.{extension}"


SCOPE_TITLE = "What this checker can and cannot judge"
EXPLANATION_TOGGLE = "Show where the model looked"
EXPLANATION_CAPTION = (
    "Warmer areas are where the model looked most when scoring this face. It shows what drove the score, not proof "
    "of where the video was edited."
)


def _training_data(card: ModelCard) -> str:
    """The card's training data in words: each source written ``"../data/x (DFDC face crops, 224x224)"`` becomes
    ``"DFDC face crops, 224x224"``; sources are separated by ``"; "``."""
    sources = []
    for source in str(card.training.get("data") or "").split(";"):
        source = source.strip()
        if source.endswith(")") and "(" in source and "/" in source.split("(", 1)[0]:
            source = source.split("(", 1)[1][:-1].strip()
        if source:
            sources.append(source)
    return "; ".join(sources)


def scope_lines(cards: Sequence[ModelCard]) -> list[str]:
    """What the checker can and cannot judge, for the models in ``cards``: plain sentences, one per point.

    The training data is each card's own (``training["data"]``); without a card it says the card names it.
    """
    named = list(dict.fromkeys(data for data in (_training_data(card) for card in cards) if data))
    data = "; ".join(named) if named else "the data named in its model card"
    return [
        f"**Can judge:** whether the faces in a video show traces of having been swapped or altered, like the face "
        f"swaps the model learned from ({data}). Other manipulation methods may go unnoticed.",
        "**Cannot judge:** video generated entirely by AI, the audio or the voice, or edits elsewhere in the picture "
        "(background, objects, cuts). A clean result does not rule these out.",
        "**Less reliable when** the video is heavily compressed or the faces are small, blurry or seen only briefly. "
        "The checker measures these and says so; when most faces are too poor to judge, its answer is "
        f"“{VerdictLabel.UNCERTAIN.plain_words}”.",
    ]


_ARCHITECTURE_WORDS = {
    "compact": "compact CNN",
    "compact_wide": "wide compact CNN",
    "resnet50": "ResNet50",
    "vgg16": "VGG16",
    "inception_resnet_v2": "InceptionResNetV2",
}


def model_choice_line(card: ModelCard) -> str:
    """One line for choosing a model: what it is and its two numbers a reviewer compares models by (how well it
    ranks DFDC fakes above reals, and how often it calls unseen real people fake), each only if the card has it."""
    line = f"**{card.name}**"
    if card.extra.get("default"):
        line += " (default)"
    if card.architecture.startswith("average("):
        line += f": average of {len(card.architecture.split(','))} networks"
    else:
        line += f": {_ARCHITECTURE_WORDS.get(card.architecture, card.architecture)}"
    resolution = card.training.get("resolution")
    if isinstance(resolution, int):
        line += f" at {resolution} px"
    auc = card.metrics.get("validation", {}).get("roc_auc")
    if isinstance(auc, int | float):
        line += f"; ROC AUC {auc:.3f} on DFDC validation crops"
    unseen = card.metrics.get("unseen_real_faces_decisions", {}).get("false_positive_rate")
    if isinstance(unseen, int | float):
        line += f"; calls {_percent(unseen)} of unseen real faces fake"
    return line + "."
