"""One network whose weights are a weighted average of several shipped networks' (a "model soup"), with a card of
its own (``python -m detector soup``).

An average of outputs (``ship.combine``) costs one network per member at scoring time; an average of weights costs
one network in all. It only makes sense for networks fine-tuned from one start, which tend to stay in one basin of
the loss where the average of their weights is itself a good network (Wortsman et al., "Model soups", 2022); an
average of a fine-tune and its start is "WiSE-FT" (Wortsman et al., "Robust fine-tuning of zero-shot models",
2022). Nothing here checks the basin: the soup's own validation figures, measured by ``ship.recalibrate`` like any
shipped model's, say whether it worked.

Every variable is averaged, the batch-normalisation statistics included (the members' statistics differ little when
their weights do). The members must share the architecture, its working resolution and the crop framing; the soup
takes the first member's input size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.errors import ModelCardError
from detector.models import model_card, weight_storage
from detector.shipping import ship


def normalised_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """The members' shares, summing to 1: equal shares when ``weights`` is None, else ``weights`` scaled."""
    if count < 2:
        raise ValueError(f"a soup needs at least two members, got {count}")
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights given for {count} members")
    if not all(math.isfinite(weight) and weight >= 0 for weight in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be finite, at least 0 and not all 0, got {list(weights)}")
    total = float(sum(weights))
    return [float(weight) / total for weight in weights]


def average_weights(members: Sequence[Sequence[np.ndarray]], shares: Sequence[float]) -> list[np.ndarray]:
    """The weighted mean of each variable across members (each a ``get_weights()`` list, in the same order and
    shapes), in each variable's own dtype."""
    first = members[0]
    for index, arrays in enumerate(members[1:], start=2):
        shapes = [array.shape for array in arrays]
        if shapes != [array.shape for array in first]:
            raise ModelCardError(f"member {index} does not have the first member's variables (shapes differ)")
    averaged = []
    for position, reference in enumerate(first):
        total = sum(
            share * np.asarray(arrays[position], np.float64) for arrays, share in zip(members, shares, strict=True)
        )
        averaged.append(np.asarray(total, reference.dtype))
    return averaged


def _check_compatible(cards: Sequence[model_card.ModelCard]) -> None:
    def shape(card: model_card.ModelCard) -> tuple:
        preprocessing = card.preprocessing
        return (
            card.architecture,
            card.training.get("resolution"),
            preprocessing.face_margin,
            preprocessing.face_center_shift,
            preprocessing.face_detector,
            preprocessing.test_time_flip,
        )

    if len({shape(card) for card in cards}) != 1:
        names = ", ".join(card.name for card in cards)
        raise ModelCardError(
            f"{names} do not share architecture, working resolution, crop framing and test-time views: their "
            "weights cannot be averaged"
        )
    averages = [card.name for card in cards if card.architecture.startswith("average(")]
    if averages:
        raise ModelCardError(f"{', '.join(averages)} average other models' outputs: a soup takes single networks")


def make_soup(
    name: str,
    members: Sequence[str],
    weights: Sequence[float] | None = None,
    models_folder: Path | None = None,
    cache_folder: Path | None = Path(".cache"),
    command: str = "",
) -> model_card.ModelCard:
    """Saves the weighted average of the named networks' weights as model ``name`` with its own calibration,
    thresholds and validation figures (``ship.recalibrate``); returns its card."""
    shares = normalised_weights(len(members), weights)
    folder = models_folder or model_card.models_folder()
    cards = [model_card.read_card(member, folder) for member in members]
    _check_compatible(cards)
    models = [weight_storage.load(model_card.verified_weights(card, folder)) for card in cards]
    soup = models[0]
    soup.set_weights(average_weights([model.get_weights() for model in models], shares))
    mixture = ", ".join(f"{card.name} {share:.3g}" for card, share in zip(cards, shares, strict=True))
    training = {
        "resolution": cards[0].training.get("resolution"),
        # What the page lists under "Weights averaged from", each member with its share.
        "soup": [
            f"{card.name}, {share:.0%} of the weights: {card.description.rstrip('.')}"
            for card, share in zip(cards, shares, strict=True)
        ],
        "command": command,
        **ship.training_of_several(cards),
    }
    ship.save_with_card(
        soup,
        name,
        folder,
        cards[0].architecture,
        f"{cards[0].architecture} classifier of face crops whose weights are the weighted average of {mixture} "
        "(one network at scoring time).",
        training,
        {},
        limitations=ship.average_limitations(cards),
        test_time_flip=cards[0].preprocessing.test_time_flip,
    )
    return ship.recalibrate(name, folder, cache_folder)
