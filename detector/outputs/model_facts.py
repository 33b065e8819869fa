"""A model card in a reviewer's words: what each measured number means and what it was measured on, how the
model was trained, what it cannot judge, and one line to choose it by. Pure functions over ``ModelCard``s; the
page, the reports and the command line lay them out (``detector/presentation.py`` words a result).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from detector.models.model_card import TRAINED_ON_KIND, ModelCard, trained_on_kind
from detector.types import VerdictLabel, threshold_text

_METRIC_EXPLANATIONS = {
    "roc_auc": ("ROC AUC", "how well the model ranks fake {unit} above real ones (1 is perfect, 0.5 a coin toss)"),
    "accuracy": ("Accuracy", "share of {unit} labelled correctly at threshold {threshold}"),
    "balanced_accuracy": (
        "Balanced accuracy",
        "accuracy averaged over fake and real {unit}, so that the larger group does not dominate",
    ),
    "log_loss": ("Log loss", "penalises confident mistakes; lower is better, 0.69 is a coin toss"),
    "equal_error_rate": (
        "Equal error rate",
        "the error rate at the threshold where real {unit} called fake and fake {unit} called real are equally "
        "common; lower is better, 0.5 is a coin toss",
    ),
    "average_precision": (
        "Average precision",
        "how cleanly fake {unit} come first when all {unit} are sorted by score; 1 is perfect, the share of fakes "
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
    "false_positive_rate": "Real {unit} wrongly called “Likely manipulated”: {value}",
    "false_negative_rate": "Fake {unit} wrongly called “No sign of manipulation found”: {value}",
    "uncertain_share": "{Unit} left “Inconclusive”: {value}",
    "uncertain_by_quality": "{Unit} left “Inconclusive” because the input was too poor to judge: {value}",
    "precision_fake": "When it says “Likely manipulated”, it is right {value} of the time",
    "precision_real": "When it says “No sign of manipulation found”, it is right {value} of the time",
}
# Other keys of a measurement, as a reviewer reads them.
_OTHER_WORDS = {
    "no_score": "Videos in which no face could be judged (left out of the numbers above)",
    "aggregation": "How a video's frames were combined",
}
# TRAINED_ON_KIND (benchmark sets and clips): the description in "data" says it in words.
_METRIC_CONTEXT_KEYS = frozenset(
    {
        "data",
        "measured_by",
        "command",
        "count",
        "count_fake",
        "count_real",
        "threshold",
        "unit",
        "halves",
        "quality",
        TRAINED_ON_KIND,
    }
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
    "steps_per_epoch": "Batches an epoch",
    "exported_epoch": "Weights from epoch",
    "selected_on": "Best epoch chosen by",
    "fakes": "Training fakes",
    "extra_reals": "Extra real faces",
    "init_weights": "Started from",
    "members": "Models averaged",
    "soup": "Weights averaged from",
}
_TRAINING_VALUE_WORDS = {
    "fakes": {
        "dfdc": "DFDC fake crops",
        "sbi": "self-blended real faces (SBI), no real deepfakes",
        "both": "half DFDC fake crops, half self-blended real faces (SBI)",
    },
    "extra_reals": {
        "utkface": "UTKFace photos of real people",
        "utkface_except_selection": "UTKFace photos of real people (not those a later stage chose its epochs on)",
    },
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
        "kinds_by_model",  # the benchmark's sets say it, each for the model measured
        "sessions",  # which code trained it, when: for whoever reproduces it
    }
)


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


# Words a card's keys contain that are names, kept as written when a key becomes a heading.
_PROPER_WORDS = {
    "dfdc": "DFDC",
    "utkface": "UTKFace",
    "auc": "AUC",
    "roc": "ROC",
    "sbi": "SBI",
    "ffpp": "FaceForensics++",
    "deepfakes": "Deepfakes",
    "face2face": "Face2Face",
    "faceswap": "FaceSwap",
    "neuraltextures": "NeuralTextures",
}


def _heading(key: str) -> str:
    """A card key as words: ``"dfdc_face_swaps"`` -> ``"DFDC face swaps"``, ``"unseen_real_faces"`` -> ``"Unseen
    real faces"``."""
    words = [_PROPER_WORDS.get(word.lower(), word) for word in key.split("_") if word]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _measurement_context(name: str, measurement: Mapping[str, Any]) -> str:
    context = _heading(name)
    if "data" in measurement:
        context += f", measured on {measurement['data']}"
    if "count" in measurement:
        context += f" ({measurement['count']:,} {measurement.get('unit', 'face crops')}"
        if "count_fake" in measurement and "count_real" in measurement:
            context += f": {measurement['count_fake']:,} fake, {measurement['count_real']:,} real"
        context += ")"
    # ``measured_by`` (the code that measured it) stays in the card for whoever reproduces the number.
    return context + ":"


def _unit_word(measurement: Mapping[str, Any]) -> str:
    """What a measurement counted, in one word: ``"videos"`` or ``"crops"``."""
    return "videos" if "video" in str(measurement.get("unit", "")) else "crops"


def _decision_lines(decisions: Mapping[str, Any]) -> list[str]:
    lines = []
    fake, low = decisions.get("fake_threshold"), decisions.get("uncertain_low")
    if isinstance(fake, int | float) and isinstance(low, int | float):
        lines.append(
            f"- Thresholds: “Likely manipulated” from {threshold_text(fake)}, “No sign of manipulation found” "
            f"under {threshold_text(low)}, “Inconclusive” in between."
        )
    for key, value in decisions.items():
        if key in _METRIC_CONTEXT_KEYS or key in _METRIC_HIDDEN_KEYS or key in ("fake_threshold", "uncertain_low"):
            continue
        if key in _DECISION_EXPLANATIONS and isinstance(value, int | float):
            unit = _unit_word(decisions)
            text = _DECISION_EXPLANATIONS[key].format(value=_percent(value), unit=unit, Unit=unit.capitalize())
            lines.append(f"- {text}.")
        else:
            lines.append(f"- {_OTHER_WORDS.get(key, _heading(key))}: {_format_value(value)}")
    return lines


def _split_line(split: Mapping[str, Any]) -> str | None:
    calibration_count, report_count = split.get("calibration_count"), split.get("report_count")
    if not isinstance(calibration_count, int) or not isinstance(report_count, int):
        return None
    return (
        "How these numbers were kept honest: the validation videos were split in two halves; one half "
        f"({calibration_count:,} crops) set the calibration and the thresholds, the other ({report_count:,} crops, "
        "never used to fit anything) gave the validation numbers and decisions above."
    )


def _group_lines(name: str, measurement: Mapping[str, Any]) -> list[str]:
    """A set's reals called fake group by group (``benchmark --record``'s ``<set>_groups``): one line a grouping,
    each group's rate of its photos with the interval."""
    lines = [f"{_heading(name)}, {measurement.get('what', 'real photos called fake, group by group')}:"]
    for grouping, groups in measurement.items():
        if not isinstance(groups, list):
            continue
        shown = [
            f"{entry['group']}"
            + (f" (sharpness {entry['range'][0]:.1f} to {entry['range'][1]:.1f})" if "range" in entry else "")
            + f" {_percent(entry['rate'])} of {entry['count']:,} "
            f"[{_percent(entry['interval'][0])}, {_percent(entry['interval'][1])}]"
            for entry in groups
        ]
        lines.append(f"- By {grouping}: {'; '.join(shown)}.")
    if "groups_from" in measurement:
        lines.append(f"- Groups from {measurement['groups_from']}; {measurement.get('interval', '')} intervals.")
    return lines


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A model card's measured metrics as sentences, each saying what the number means and what it was measured on.

    ``metrics`` maps a measurement's name (``"validation"``) to its numbers and context, as ``train.export`` and
    ``calibrate.fit_on_validation`` write them: ``<name>_intervals`` (bootstrap ranges) are shown beside the
    numbers of ``<name>``, ``decisions`` and ``<name>_decisions`` (``evaluate --record``) as the rates a reviewer
    meets, ``validation_split`` as one sentence.
    Other shapes are listed as they are.
    """
    lines: list[str] = []
    split_line = None
    for name, measurement in metrics.items():
        if not isinstance(measurement, Mapping):
            lines.append(f"{_heading(name)}: {_format_value(measurement)}")
            continue
        if name.endswith("_intervals") and name.removesuffix("_intervals") in metrics:
            continue
        if name == "validation_split":
            split_line = _split_line(measurement)
            if split_line is not None:
                continue
        if name.endswith("_groups"):
            lines.extend(_group_lines(name.removesuffix("_groups"), measurement))
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
                unit = _unit_word(measurement)
                lines.append(f"- {title} {shown}: {meaning.format(threshold=threshold_text, unit=unit)}.")
            else:
                lines.append(f"- {_OTHER_WORDS.get(key, _heading(key))}: {_format_value(value)}")
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
    if key == "data" and isinstance(value, str):
        return _data_words(value)
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
            lines.append(f"{_heading(key)}: {_format_value(value)}")
    return lines


def _training_data(card: ModelCard) -> str:
    """The card's training data in words (``_data_words``)."""
    return _data_words(str(card.training.get("data") or ""))


# A folder followed by what it holds in words: "../data/x (DFDC face crops, 224x224)".
_STORED_AS = re.compile(r"[^\s;()]+/[^\s;()]+\s*\(([^()]*)\)")


def _data_words(data: str) -> str:
    """Training data in words, without where it was stored: each source written ``"../data/x (DFDC face crops,
    224x224)"`` becomes ``"DFDC face crops, 224x224"``, wherever it stands in the text (a mixed run names two
    folders in one source); sources are separated by ``"; "``. A source said again, alone or inside a longer one
    (an average's members name the same crops), is said once."""
    words = _STORED_AS.sub(lambda match: match.group(1).strip(), data)
    named = list(dict.fromkeys(source.strip() for source in words.split(";") if source.strip()))
    return "; ".join(source for source in named if not any(source in other for other in named if other != source))


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
    "compact_deep": "deep compact CNN",
    "compact_high_pass": "compact CNN with high-pass input",
    "compact_local": "patch-level compact CNN",
    "compact_lower": "lower-face compact CNN",
    "compact_spectrum": "compact CNN with a DCT spectrum branch",
    "compact_two_view": "two-view compact CNN (whole face and lower face)",
    "resnet50": "ResNet50",
    "vgg16": "VGG16",
    "inception_resnet_v2": "InceptionResNetV2",
}


def model_choice_line(card: ModelCard) -> str:
    """One line for choosing a model: what it is and the numbers a reviewer compares models by (how well it ranks
    DFDC fakes above reals, how often it calls unseen real people fake, how well it ranks face swaps of a method
    it was not trained on, or says it trained on them), each only if the card has it."""
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
    # The swaps between DFDC's people: the same look as its training reals, so only the manipulation is new (the
    # UTKFace set also measures how a UTKFace-trained model reads that collection's look; the facts show both). A
    # model that trained with the swaps' generator is not ranked on them as on "another method".
    swaps = card.metrics.get("dfdc_face_swaps", {})
    auc = swaps.get("roc_auc")
    if isinstance(auc, int | float):
        how = (
            "made the way it was trained (not a test of other methods)"
            if trained_on_kind(swaps)
            else "of another method"
        )
        line += f"; ROC AUC {auc:.3f} on face swaps {how}"
    return line + "."


def thresholds_lines(card: ModelCard, strategy: str) -> list[str]:
    """Which thresholds judge what, for a reviewer: a single face crop's (chosen on crops) and a whole video's
    (fitted on clips for the ``strategy`` aggregation where the card has them, else the crops')."""
    crop = card.thresholds
    lines = [
        f"A single face crop: “Likely manipulated” from {threshold_text(crop.fake)}, “No sign of manipulation "
        f"found” under {threshold_text(crop.uncertain_low)}, chosen on {crop.chosen_on}."
    ]
    video = card.video_thresholds.get(strategy)
    if video is None:
        lines.append("A whole video: the same thresholds, applied to its combined score (none were fitted on clips).")
    else:
        lines.append(
            f"A whole video (“{strategy}” combination of its frames): “Likely manipulated” from "
            f"{threshold_text(video.fake)}, “No sign of manipulation found” under "
            f"{threshold_text(video.uncertain_low)}, fitted on {video.chosen_on}."
        )
    return lines
