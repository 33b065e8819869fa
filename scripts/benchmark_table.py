"""Prints the README's benchmark table from the shipped models' cards (what ``benchmark --record`` wrote).

    python -m scripts.benchmark_table [--models-folder models] [--calibration]

One row per shipped model, one column per benchmark set (``detector.evaluation.benchmark.SETS``) and one for the
clips: ROC AUC where the set has fakes, the share called "Likely manipulated" on the unseen real people, "-" where
the card has no figure for that set. With ``--calibration``, each set's expected calibration error instead (on the
unseen real people, their mean fake probability), against the issue's target of at most 0.08 on every set.
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


def cell(metrics: Mapping[str, Any], key: str, figure: str = ROC_AUC) -> str:
    """One set's ``figure`` as a table cell: ROC AUC (the share called fake on a set with no fakes) or ECE."""
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-folder", default=str(model_card.MODELS_FOLDER))
    parser.add_argument(
        "--calibration", action="store_true", help="each set's expected calibration error instead of its ROC AUC"
    )
    arguments = parser.parse_args(argv)
    folder = Path(arguments.models_folder)
    cards = [model_card.read_card(name, folder) for name in model_card.available_models(folder)]
    print("\n".join(table(cards, CALIBRATION_ERROR if arguments.calibration else ROC_AUC)))


if __name__ == "__main__":
    main()
