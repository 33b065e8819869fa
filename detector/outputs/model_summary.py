"""A model's measured quality in a few plain sentences and one small table, for reviewers who will not read a
model card: on each kind of data it was measured on, how often it called real faces fake and how often it missed
fakes. Pure functions over the measurements a card records (``detector.outputs.model_facts`` words all of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detector.models import model_card
from detector.models.model_card import ModelCard
from detector.types import VerdictLabel

# The measurements a card records at its thresholds, in the order a reviewer reads them: (card key, what the data
# is, in a reviewer's words).
MEASURED_KINDS = (
    ("decisions", "Deepfakes like those it learned from (DFDC videos of people it never saw)"),
    ("dfdc_face_swaps_decisions", "Face swaps made another way, on the same kind of video"),
    ("unseen_face_swaps_decisions", "Face swaps made another way, in photos of people it never saw"),
    ("dfdc_reenactments_decisions", "Changed mouth or lower face (expression), on the same kind of video"),
    ("utkface_reenactments_decisions", "Changed mouth or lower face (expression), in photos of people it never saw"),
    ("ffpp_deepfakes_decisions", "FaceForensics++ face swaps by autoencoder (Deepfakes), TV footage"),
    ("ffpp_faceswap_decisions", "FaceForensics++ face swaps by graphics (FaceSwap), TV footage"),
    ("ffpp_face2face_decisions", "FaceForensics++ changed expressions (Face2Face), TV footage"),
    ("ffpp_neuraltextures_decisions", "FaceForensics++ re-rendered mouths (NeuralTextures), TV footage"),
    ("unseen_real_faces_decisions", "Real people it never saw (photos)"),
    ("clips_decisions", "Whole videos filmed from photos of people it never saw, real and manipulated, compressed"),
)
NOT_MEASURED = "not measured"
_TRAINED_WORDS = "made the way some of its training fakes were, so not a test of methods it never saw"
# A kind of fake the models rank below this ROC AUC is one a clean result says nothing about (0.5 is guessing).
NEAR_CHANCE = 0.6

_ARCHITECTURE_WORDS = {
    "compact": "a small convolutional network",
    "compact_wide": "a wider small convolutional network",
    "compact_deep": "a deeper, wider small convolutional network",
    "compact_high_pass": "a small convolutional network that also sees the image's fine detail on its own",
    "compact_local": "a small convolutional network that judges each small patch of the face on its own",
    "compact_lower": "a wider small convolutional network that looks at the mouth and chin only, in finer detail",
    "compact_spectrum": (
        "a wider small convolutional network that also sees how each small square of the face spreads its detail "
        "over fine and coarse patterns"
    ),
    "compact_two_view": (
        "two wider small convolutional networks judging together, one over the whole face and one over the mouth "
        "and chin in finer detail"
    ),
    "resnet50": "a ResNet50 network",
    "vgg16": "a VGG16 network",
    "inception_resnet_v2": "an InceptionResNetV2 network",
}
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass(frozen=True)
class MeasuredRow:
    """One kind of data a model was measured on, at its thresholds; a rate is None where the data has no such
    faces (no fakes among real people's photos)."""

    kind: str
    real_called_fake: float | None
    fakes_missed: float | None
    inconclusive: float | None
    count: int | None
    trained_on: bool = False
    # The share of the fakes left inconclusive (None where unmeasured or the data has no fakes).
    fakes_inconclusive: float | None = None


def _rate(decisions: Mapping[str, Any], key: str) -> float | None:
    value = decisions.get(key)
    return float(value) if isinstance(value, int | float) else None


def measured_rows(metrics: Mapping[str, Any]) -> list[MeasuredRow]:
    """A row per kind of data in ``metrics`` (a card's, or the measurements of several models' average), in the
    order of ``MEASURED_KINDS``; kinds not measured are left out."""
    rows = []
    for key, kind in MEASURED_KINDS:
        decisions = metrics.get(key)
        if not isinstance(decisions, Mapping):
            continue
        has_fakes = "false_negative_rate" in decisions
        count = decisions.get("count")
        trained_on = model_card.trained_on_kind(decisions)
        if trained_on:
            kind = f"{kind.replace(' made another way', '')}: {_TRAINED_WORDS}"
        rows.append(
            MeasuredRow(
                kind=kind,
                real_called_fake=_rate(decisions, "false_positive_rate"),
                fakes_missed=_rate(decisions, "false_negative_rate") if has_fakes else None,
                inconclusive=_rate(decisions, "uncertain_share"),
                count=int(count) if isinstance(count, int) else None,
                trained_on=trained_on,
                fakes_inconclusive=_rate(decisions, "uncertain_share_fake") if has_fakes else None,
            )
        )
    return rows


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def table_rows(rows: Sequence[MeasuredRow]) -> list[dict[str, str]]:
    """The rows as a table's cells, with column names a reviewer reads."""
    return [
        {
            "Measured on": row.kind,
            "Real faces called fake": _percent(row.real_called_fake),
            "Fakes missed (called real)": _percent(row.fakes_missed),
            "Left inconclusive": _percent(row.inconclusive),
        }
        for row in rows
    ]


def plain_kind(card: ModelCard) -> str:
    """What a model is, in words: "the average of three small convolutional networks", "a ResNet50 network"."""
    if card.architecture.startswith("average("):
        parts = [part.strip() for part in card.architecture[len("average(") : -1].split(",")]
        # Each member's words without the article: "small convolutional network".
        kinds = {_ARCHITECTURE_WORDS.get(part, "a neural network").split(" ", 1)[1] for part in parts}
        count = _NUMBERS.get(len(parts), str(len(parts)))
        if len(kinds) == 1:
            return f"the average of {count} {kinds.pop().replace('network', 'networks')}"
        return f"the average of {count} networks"
    return _ARCHITECTURE_WORDS.get(card.architecture, "a neural network")


def summary_sentences(what: str, rows: Sequence[MeasuredRow]) -> list[str]:
    """A few sentences on what scored the faces (``what``, e.g. ``plain_kind(card)``) and how it did, from the
    measurements alone (no number made up)."""
    sentences = [f"The checker scores each face with {what}, trained from scratch for this checker."]
    learned = next((row for row in rows if row.kind == MEASURED_KINDS[0][1]), None)
    # Every face swap and expression change made another way it was not trained on, not the face swaps alone: the
    # sentence names the kind that fooled it most.
    another_way = {kind for _, kind in MEASURED_KINDS[1:5]}
    others = [row for row in rows if not row.trained_on and row.kind in another_way]
    if learned is not None and learned.fakes_missed is not None and learned.real_called_fake is not None:
        sentences.append(
            f"On deepfakes like those it learned from, it missed {_percent(learned.fakes_missed)} of fake faces and "
            f"called {_percent(learned.real_called_fake)} of real faces fake, leaving "
            f"{_percent(learned.inconclusive)} undecided."
        )
    measured = [row for row in others if row.fakes_missed is not None]
    if measured and learned is not None and learned.fakes_missed is not None:
        worst = max(measured, key=lambda row: row.fakes_missed)
        if worst.fakes_missed > learned.fakes_missed:
            if worst.fakes_inconclusive is None:
                how = (
                    "Manipulations made another way fool it more often: it missed up to "
                    f"{_percent(worst.fakes_missed)} of those."
                )
            else:
                # Missed counts the fakes called real only; the undecided ones were not caught either.
                caught = max(0.0, 1 - worst.fakes_missed - worst.fakes_inconclusive)
                how = (
                    "Manipulations made another way fool it more often. On the kind that fooled it most — "
                    f"{_in_a_sentence(worst.kind)} — it called {_percent(worst.fakes_missed)} of those fakes real "
                    f"and left {_percent(worst.fakes_inconclusive)} of them undecided, flagging only "
                    f"{_percent(caught)}."
                )
            sentences.append(f"{how} A result of “No sign of manipulation found” does not rule them out.")
    if not rows:
        sentences.append("It has no measurements on labelled data: its scores cannot be trusted.")
    sentences.append(
        "These rates are for single faces; a video's verdict combines many frames, and footage unlike the data "
        "below may fare worse."
    )
    return sentences


def blind_spots(metrics: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """The kinds of fake that every one of the models (``metrics``: each one's card metrics) was measured on and
    ranked below ``NEAR_CHANCE``, as ``(kind in words, the best of their ROC AUCs)``, in ``MEASURED_KINDS`` order.
    The DFDC validation split and the sets with no fakes or whole videos are not kinds of fake."""
    found = []
    for key, kind in MEASURED_KINDS:
        if key in ("decisions", "unseen_real_faces_decisions", "clips_decisions"):
            continue
        figures = [each.get(key.removesuffix("_decisions")) for each in metrics]
        aucs = [figure.get("roc_auc") if isinstance(figure, Mapping) else None for figure in figures]
        if aucs and all(isinstance(auc, int | float) and auc < NEAR_CHANCE for auc in aucs):
            found.append((kind, max(float(auc) for auc in aucs if auc is not None)))
    return found


def clean_result_caveat(label: VerdictLabel, metrics: Sequence[Mapping[str, Any]]) -> str | None:
    """For a verdict that is not "Likely manipulated", what it cannot rule out: the kinds of fake the models
    ranked no better than chance when measured (``blind_spots``). None for a "Likely manipulated" verdict, or when
    the models have no such blind spot on record."""
    spots = blind_spots(metrics)
    if label is VerdictLabel.FAKE or not spots:
        return None
    best = max(auc for _, auc in spots)
    kinds = "; ".join(_in_a_sentence(kind) for kind, _ in spots)
    who = "the model tells" if len(metrics) == 1 else "each of the models tells"
    return (
        f"“{label.plain_words}” does not rule out every kind of manipulation. Measured on labelled faces, {who} "
        f"these from real faces little better than by guessing (ROC AUC at most {best:.2f}, where 0.5 is guessing "
        f"and 1 is always right): {kinds}."
    )


def _in_a_sentence(words: str) -> str:
    """``words`` inside a sentence: "Changed mouth" becomes "changed mouth"; a name such as "FaceForensics++"
    keeps its capitals."""
    first = words.split(" ", 1)[0]
    return words[0].lower() + words[1:] if first[1:].islower() else words
