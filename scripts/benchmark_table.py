"""Prints the README's benchmark table from the shipped models' cards (what ``benchmark --record`` wrote).

    python -m scripts.benchmark_table [--models-folder models] [--calibration | --rates | --groups]

One row per shipped model, one column per benchmark set (``detector.evaluation.benchmark.SETS``) and one for the
clips: ROC AUC where the set has fakes, the share called "Likely manipulated" on the unseen real people, "-" where
the card has no figure for that set. With ``--calibration``, each set's expected calibration error instead (on the
unseen real people, their mean fake probability), against the issue's target of at most 0.08 on every set. With
``--rates``, what each card's thresholds decide on each set: the share of its reals called "Likely manipulated",
then the share of its fakes called "No sign of manipulation found" (the rest are inconclusive or caught). With
``--groups``, the unseen real people called "Likely manipulated" group by group (``detector.evaluation.subgroups``:
UTKFace's gender, ethnicity and age labels, and the photo's sharpness), one row per model that has them.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detector.evaluation import benchmark
from detector.models import model_card

SHORT_TITLES = {
    "unseen_real_faces": "unseen real people called fake",
    "unseen_face_swaps": "swaps, UTKFace",
    "dfdc_face_swaps": "swaps, DFDC",
    "utkface_reenactments": "reenact., UTKFace",
    "dfdc_reenactments": "reenact., DFDC",
    "ffpp_deepfakes": "FF++ DF",
    "ffpp_face2face": "FF++ F2F",
    "ffpp_faceswap": "FF++ FS",
    "ffpp_neuraltextures": "FF++ NT",
}


ROC_AUC = "roc_auc"
CALIBRATION_ERROR = "expected_calibration_error"
RATES = "rates"


def _share(value: object, digits: int) -> str:
    return f"{value:.{digits}%}" if isinstance(value, int | float) else "-"


def rates_cell(metrics: Mapping[str, Any], key: str) -> str:
    """One set's decisions at the card's thresholds: reals called fake, then fakes called clean (if it has fakes)."""
    decisions = metrics.get("decisions" if key == "validation" else f"{key}_decisions")
    if not isinstance(decisions, Mapping):
        return "-"
    accused = _share(decisions.get("false_positive_rate"), 1)
    if "false_negative_rate" not in decisions:
        return accused
    return f"{accused} / {_share(decisions['false_negative_rate'], 0)}"


def cell(metrics: Mapping[str, Any], key: str, figure: str = ROC_AUC) -> str:
    """One set's ``figure`` as a table cell: ROC AUC (the share called fake on a set with no fakes), ECE or the
    decisions' rates (``rates_cell``)."""
    if figure == RATES:
        return rates_cell(metrics, key)
    measured = metrics.get(key)
    if not isinstance(measured, Mapping):
        return "-"
    if key == "unseen_real_faces" and figure == ROC_AUC:
        decisions = metrics.get(f"{key}_decisions", {})
        rate = decisions.get("false_positive_rate") if isinstance(decisions, Mapping) else None
        return f"{rate:.1%}" if isinstance(rate, int | float) else "-"
    value = measured.get(figure)
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def table(cards: Sequence[model_card.ModelCard], figure: str = ROC_AUC) -> list[str]:
    keys = [item.key for item in benchmark.SETS]
    titles = {**SHORT_TITLES, "unseen_real_faces": "unseen real people"} if figure != ROC_AUC else SHORT_TITLES
    header = ["model", "DFDC validation", *(titles.get(key, key) for key in keys), "clips (videos)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for card in cards:
        cells = [card.name, *(cell(card.metrics, key, figure) for key in ("validation", *keys, "clips"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


GROUPS_KEY = "unseen_real_faces_groups"
GROUPINGS = ("gender", "ethnicity", "age", "sharpness")


def groups_table(cards: Sequence[model_card.ModelCard]) -> list[str]:
    """The unseen real people called fake, one column per group (headed by the group and how many photos it holds),
    one row per card that recorded them; the columns are the first such card's groups."""
    grouped = [card for card in cards if isinstance(card.metrics.get(GROUPS_KEY), Mapping)]
    if not grouped:
        return ["no card here has the unseen people's false alarms by group: run benchmark --record"]
    columns = [
        (grouping, entry["group"], entry["count"])
        for grouping in GROUPINGS
        for entry in grouped[0].metrics[GROUPS_KEY].get(grouping, [])
    ]
    header = ["model", *(f"{grouping}: {group} ({count})" for grouping, group, count in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for card in grouped:
        found = {
            (grouping, entry["group"]): entry["rate"]
            for grouping in GROUPINGS
            for entry in card.metrics[GROUPS_KEY].get(grouping, [])
        }
        rates = [found.get((grouping, group)) for grouping, group, _ in columns]
        lines.append("| " + " | ".join([card.name, *(_share(rate, 1) for rate in rates)]) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-folder", default=str(model_card.MODELS_FOLDER))
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--calibration",
        action="store_const",
        const=CALIBRATION_ERROR,
        dest="figure",
        help="each set's expected calibration error instead of its ROC AUC",
    )
    shown.add_argument(
        "--rates",
        action="store_const",
        const=RATES,
        dest="figure",
        help="each set's reals called fake and fakes called clean at the card's thresholds",
    )
    shown.add_argument(
        "--groups",
        action="store_const",
        const=GROUPS_KEY,
        dest="figure",
        help="the unseen real people called fake by gender, ethnicity, age and the photo's sharpness",
    )
    arguments = parser.parse_args(argv)
    folder = Path(arguments.models_folder)
    cards = [model_card.read_card(name, folder) for name in model_card.available_models(folder)]
    lines = groups_table(cards) if arguments.figure == GROUPS_KEY else table(cards, arguments.figure or ROC_AUC)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
