"""scripts/benchmark_table.py: the README's benchmark table from the cards."""

from __future__ import annotations

import dataclasses

from detector.models import model_card
from scripts import benchmark_table


def test_a_row_shows_each_recorded_figure_and_a_dash_where_there_is_none(tiny_models_folder):
    card = model_card.read_card("tiny", tiny_models_folder)
    measured = dataclasses.replace(
        card,
        metrics={
            "validation": {"roc_auc": 0.8711},
            "unseen_real_faces": {"count": 10},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.033},
            "dfdc_face_swaps": {"roc_auc": 0.742},
            "clips": {"roc_auc": 0.627},
        },
    )
    header, rule, row = benchmark_table.table([measured])
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    titles = [title.strip() for title in header.strip("|").split("|")]
    assert len(cells) == len(titles) and rule.count("---") == len(titles)
    shown = dict(zip(titles, cells, strict=True))
    assert shown["model"] == "tiny" and shown["DFDC validation"] == "0.871"
    assert shown["unseen real people called fake"] == "3.3%"
    assert shown["swaps, DFDC"] == "0.742" and shown["swaps, UTKFace"] == "-"
    assert shown["clips (videos)"] == "0.627"
