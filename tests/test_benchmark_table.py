"""scripts/benchmark_table.py: the README's benchmark table from the cards."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from detector.models import model_card
from scripts import benchmark_table


def _tiny_measured(folder, metrics):
    """The tiny model's card with these benchmark figures recorded."""
    return dataclasses.replace(model_card.read_card("tiny", folder), metrics=metrics)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_row_shows_each_recorded_figure_and_a_dash_where_there_is_none(tiny_models_folder):
    measured = _tiny_measured(
        tiny_models_folder,
        {
            "validation": {"roc_auc": 0.8711},
            "unseen_real_faces": {"count": 10},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.033},
            "dfdc_face_swaps": {"roc_auc": 0.742},
            "clips": {"roc_auc": 0.627},
        },
    )
    header, rule, row = benchmark_table.table([measured])
    cells, titles = _cells(row), _cells(header)
    assert len(cells) == len(titles) and rule.count("---") == len(titles)
    shown = dict(zip(titles, cells, strict=True))
    assert shown["model"] == "tiny" and shown["DFDC validation"] == "0.871"
    assert shown["unseen real people called fake"] == "3.3%"
    assert shown["swaps, DFDC"] == "0.742" and shown["swaps, UTKFace"] == "-"
    assert shown["clips (videos)"] == "0.627"


def test_the_calibration_table_shows_each_sets_calibration_error(tiny_models_folder):
    measured = _tiny_measured(
        tiny_models_folder,
        {
            "validation": {"roc_auc": 0.871, "expected_calibration_error": 0.015},
            "unseen_real_faces": {"count": 10, "expected_calibration_error": 0.246},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.033},
            "dfdc_face_swaps": {"roc_auc": 0.742},
        },
    )
    header, _, row = benchmark_table.table([measured], benchmark_table.CALIBRATION_ERROR)
    shown = dict(zip(_cells(header), _cells(row), strict=True))
    assert shown["DFDC validation"] == "0.015" and shown["unseen real people"] == "0.246"
    assert shown["swaps, DFDC"] == "-"


def test_the_rates_table_shows_reals_called_fake_then_fakes_called_clean(tiny_models_folder):
    measured = _tiny_measured(
        tiny_models_folder,
        {
            "validation": {"roc_auc": 0.871},
            "decisions": {"false_positive_rate": 0.0885, "false_negative_rate": 0.0415},
            "unseen_real_faces": {"count": 10},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.033},
            "unseen_face_swaps": {"roc_auc": 0.639},
            "unseen_face_swaps_decisions": {"false_positive_rate": 0.035, "false_negative_rate": 0.29},
            "dfdc_face_swaps": {"roc_auc": 0.742},
        },
    )
    header, _, row = benchmark_table.table([measured], benchmark_table.RATES)
    shown = dict(zip(_cells(header), _cells(row), strict=True))
    assert shown["DFDC validation"] == "8.8% / 4%" and shown["unseen real people"] == "3.3%"
    assert shown["swaps, UTKFace"] == "3.5% / 29%"
    # A set measured without decisions has no rates to show.
    assert shown["swaps, DFDC"] == "-" and shown["clips (videos)"] == "-"


def test_the_groups_table_shows_each_groups_rate_under_the_first_cards_groups(tiny_models_folder):
    def entry(group, count, rate):
        return {"group": group, "count": count, "called_fake": round(rate * count), "rate": rate}

    recorded = {
        "gender": [entry("male", 40, 0.025), entry("female", 60, 0.05)],
        "ethnicity": [entry("White", 100, 0.04)],
    }
    first = _tiny_measured(tiny_models_folder, {"unseen_real_faces_groups": recorded})
    second = dataclasses.replace(
        first, name="other", metrics={"unseen_real_faces_groups": {"gender": [entry("female", 60, 0.1)]}}
    )
    without = dataclasses.replace(first, name="without", metrics={})
    header, rule, *rows = benchmark_table.groups_table([first, second, without])
    titles = _cells(header)
    assert titles == ["model", "gender: male (40)", "gender: female (60)", "ethnicity: White (100)"]
    assert rule.count("---") == len(titles) and len(rows) == 2  # a card without them has no row
    assert _cells(rows[0]) == ["tiny", "2.5%", "5.0%", "4.0%"]
    assert _cells(rows[1]) == ["other", "-", "10.0%", "-"]
    assert "run benchmark --record" in benchmark_table.groups_table([without])[0]


def test_the_readme_shows_the_tables_the_shipped_cards_give():
    # Shipping or re-measuring a model changes its card; the README's three tables must follow
    # (python -m scripts.benchmark_table [--calibration | --rates]).
    folder = model_card.MODELS_FOLDER
    cards = [model_card.read_card(name, folder) for name in model_card.available_models(folder)]
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for figure in (benchmark_table.ROC_AUC, benchmark_table.CALIBRATION_ERROR, benchmark_table.RATES):
        assert "\n".join(benchmark_table.table(cards, figure)) in readme, f"README's {figure} table is not current"
    assert "\n".join(benchmark_table.groups_table(cards)) in readme, "README's table by group is not current"
