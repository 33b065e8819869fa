"""Tests for detector/model_facts.py: a model card in a reviewer's words."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detector.models import model_card
from detector.outputs import model_facts


def test_metric_lines_explain_each_number_and_what_it_was_measured_on() -> None:
    metrics = {
        "validation": {
            "roc_auc": 0.91234,
            "log_loss": 0.35,
            "accuracy": 0.85,
            "balanced_accuracy": None,
            "threshold": 0.5,
            "count": 2000,
            "count_fake": 1000,
            "count_real": 1000,
            "data": "DFDC face crops",
            "measured_by": "scikit-learn",
        }
    }
    lines = model_facts.metric_lines(metrics)
    assert lines[0] == ("Validation, measured on DFDC face crops (2,000 face crops: 1,000 fake, 1,000 real):")
    assert any(line.startswith("- ROC AUC 0.912: how well the model ranks") for line in lines)
    assert any("Accuracy 0.850: share of crops labelled correctly at threshold 0.500" in line for line in lines)
    assert any("Balanced accuracy not defined" in line for line in lines)
    assert len(lines) == 5


def test_metric_lines_put_ranges_beside_numbers_and_state_decisions_as_rates() -> None:
    metrics = {
        "validation": {"roc_auc": 0.85, "expected_calibration_error": 0.02, "count": 2078},
        "validation_intervals": {"roc_auc": [0.83, 0.865], "expected_calibration_error": [0.022, 0.046]},
        "decisions": {
            "fake_threshold": 0.785,
            "uncertain_low": 0.191,
            "false_positive_rate": 0.047,
            "uncertain_share": 0.547,
            "precision_fake": 0.91,
            "count_called_fake": 533,
        },
        "validation_split": {"calibration_count": 2135, "report_count": 2078},
    }
    lines = model_facts.metric_lines(metrics)
    assert "- ROC AUC 0.850 (95% range 0.830 to 0.865): how well" in "\n".join(lines)
    assert any(line.startswith("- Expected calibration error 0.020: how far") for line in lines)
    assert not any(line.startswith("Validation intervals") for line in lines)
    assert "- Thresholds: “Likely manipulated” from 0.785, “No sign of manipulation found” under 0.191" in "\n".join(
        lines
    )
    assert "- Real crops wrongly called “Likely manipulated”: 4.7%." in lines
    assert "- Crops left “Inconclusive”: 54.7%." in lines
    assert "- When it says “Likely manipulated”, it is right 91.0% of the time." in lines
    assert not any("533" in line for line in lines)
    assert lines[-1].startswith("How these numbers were kept honest") and "2,135 crops" in lines[-1]


def test_metric_lines_say_what_calibrated_probabilities_mean_and_not_of_raw_ones() -> None:
    calibrated = "calibrated (temperature 0.866, bias +0.258 (Platt))"
    lines = model_facts.metric_lines({"validation": {"roc_auc": 0.87, "probabilities": calibrated}})
    assert f"- Probabilities {calibrated}: {model_facts.CALIBRATED_MEANING}." in lines
    raw = model_facts.metric_lines({"validation": {"probabilities": "raw model outputs (no calibration fitted)"}})
    assert raw[-1] == "- Probabilities: raw model outputs (no calibration fitted)"


def test_metric_lines_list_unknown_shapes_as_they_are() -> None:
    assert model_facts.metric_lines({"validation": {"note": "untrained: not measured"}}) == [
        "Validation:",
        "- Note: untrained: not measured",
    ]
    assert model_facts.metric_lines({"auc": 0.5}) == ["AUC: 0.500"]
    # Names in a key keep their spelling: the heading of a recorded measurement says "DFDC", not "Dfdc".
    swaps = model_facts.metric_lines({"dfdc_face_swaps": {"roc_auc": 0.74, "data": "swaps"}})
    assert swaps[0] == "DFDC face swaps, measured on swaps:"


def test_markdown_blocks_keep_paragraphs_out_of_list_items() -> None:
    text = model_facts.markdown_blocks(["Validation:", "- ROC AUC 0.8", "- Log loss 0.5", "Decisions:", "- Rate"])
    assert text == "Validation:\n- ROC AUC 0.8\n- Log loss 0.5\n\nDecisions:\n- Rate"


def test_training_lines_say_which_fakes_in_words() -> None:
    lines = model_facts.training_lines({"fakes": "both", "extra_reals": None, "init_weights": None})
    assert lines == ["Training fakes: half DFDC fake crops, half self-blended real faces (SBI)"]


def test_training_lines_say_at_what_size_the_network_sees_a_face() -> None:
    assert model_facts.training_lines({"resolution": 128}) == [
        "Working resolution: 128 px (each face crop is shrunk to 128x128 before the network sees it)"
    ]


def test_training_lines_of_an_averaged_model_list_its_members() -> None:
    lines = model_facts.training_lines({"members": ["a: first model.", "b: second model."], "data": "DFDC"})
    assert lines == ["Training data: DFDC", "Models averaged: a: first model.; b: second model."]


def test_training_lines_leave_out_run_mechanics() -> None:
    lines = model_facts.training_lines(
        {"data": "DFDC crops", "train_count": 20000, "seed": 1, "command": "python -m detector", "sampler": "x"}
    )
    assert lines == ["Training data: DFDC crops", "Training face crops: 20,000", "Sampler: x"]


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ("../shared/data/dfdc-faces (DFDC face crops, 224x224)", "(DFDC face crops, 224x224)"),
        ("DFDC face swaps", "(DFDC face swaps)"),
        (
            "../a/dfdc (DFDC crops); ../a/utk (UTKFace photos, some held out)",
            "(DFDC crops; UTKFace photos, some held out)",
        ),
        (
            "../a/dfdc (DFDC crops); ../a/utk (UTKFace photos); ../a/dfdc (DFDC crops) and ../a/x (second fakes)",
            "(UTKFace photos; DFDC crops and second fakes)",
        ),
        (None, "(the data named in its model card)"),
    ],
)
def test_scope_lines_name_the_cards_training_data_and_the_limits(
    tiny_models_folder: Path, data: str | None, shown: str
) -> None:
    card = dataclasses.replace(model_card.read_card("tiny", tiny_models_folder), training={"data": data})
    lines = model_facts.scope_lines([card, card])
    assert len(lines) == 3
    assert lines[0].startswith("**Can judge:**") and lines[0].count(shown) == 1
    assert "../shared" not in lines[0]
    assert lines[1].startswith("**Cannot judge:**")
    for words in ("generated entirely by AI", "audio", "voice", "elsewhere in the picture"):
        assert words in lines[1]
    assert "heavily compressed" in lines[2] and "small, blurry" in lines[2] and "“Inconclusive”" in lines[2]


def test_scope_lines_without_a_card_or_with_two_datasets(tiny_models_folder: Path) -> None:
    assert "(the data named in its model card)" in model_facts.scope_lines([])[0]
    card = model_card.read_card("tiny", tiny_models_folder)
    first = dataclasses.replace(card, training={"data": "DFDC face crops"})
    second = dataclasses.replace(card, training={"data": "UTKFace"})
    assert "(DFDC face crops; UTKFace)" in model_facts.scope_lines([first, second])[0]


def test_metric_lines_show_a_recorded_evaluation_with_its_data_unit_and_rates() -> None:
    context = {"data": "held-out real photos", "unit": "videos", "measured_by": "python -m detector evaluate"}
    metrics = {
        "unseen_reals": {"log_loss": 0.29, "count": 40, "count_fake": 0, "count_real": 40, **context},
        "unseen_reals_intervals": {"method": "percentile bootstrap", "log_loss": [0.27, 0.31]},
        "unseen_reals_decisions": {"false_positive_rate": 0.039, "uncertain_share": 0.51, "count": 40, **context},
    }
    lines = model_facts.metric_lines(metrics)
    assert lines[0] == ("Unseen reals, measured on held-out real photos (40 videos: 0 fake, 40 real):")
    assert lines[1].startswith("- Log loss 0.290 (95% range 0.270 to 0.310): ")
    assert lines[2].startswith("Unseen reals, at the card's thresholds, measured on held-out real photos (40 videos)")
    assert lines[3:] == [
        "- Real videos wrongly called “Likely manipulated”: 3.9%.",
        "- Videos left “Inconclusive”: 51.0%.",
    ]


def test_metric_lines_show_the_false_alarms_of_each_group_with_intervals_not_raw_records() -> None:
    from detector.evaluation import subgroups

    rates = {
        "gender": [
            subgroups.GroupRate("gender", "male", 1200, 24, 0.0135, 0.0296),
            subgroups.GroupRate("gender", "female", 800, 8, 0.0051, 0.0196),
        ],
        "sharpness": [subgroups.GroupRate("sharpness", "softest fifth", 400, 25, 0.0428, 0.0906, (0.93, 11.64))],
    }
    metrics = {"unseen_real_faces_groups": {**subgroups.card_entry(rates, 0.6376), "command": "python -m detector"}}
    lines = model_facts.metric_lines(metrics)
    assert lines == [
        "Unseen real faces, real photos called fake (fake probability at or above 0.6376), group by group:",
        "- By gender: male 2.0% of 1,200 [1.4%, 3.0%]; female 1.0% of 800 [0.5%, 2.0%].",
        "- By sharpness: softest fifth (sharpness 0.9 to 11.6) 6.2% of 400 [4.3%, 9.1%].",
        f"- Groups from {subgroups.card_entry(rates, 0.6376)['groups_from']}; Wilson, 95% intervals.",
    ]


def test_a_model_choice_line_says_what_the_model_is_and_its_comparable_numbers(tiny_models_folder: Path) -> None:
    card = model_card.read_card("tiny", tiny_models_folder)
    measured = dataclasses.replace(
        card,
        training={**card.training, "resolution": 128},
        metrics={
            "validation": {"roc_auc": 0.8706},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.0387},
            "unseen_face_swaps": {"roc_auc": 0.6429},
            "dfdc_face_swaps": {"roc_auc": 0.7424},
        },
        extra={"default": True},
    )
    assert model_facts.model_choice_line(measured) == (
        "**tiny** (default): compact CNN at 128 px; ROC AUC 0.871 on DFDC validation crops; "
        "calls 3.9% of unseen real faces fake; ROC AUC 0.742 on face swaps of another method."
    )
    trained = {**measured.metrics, "dfdc_face_swaps": {"roc_auc": 0.91, "trained_on_this_kind": "yes: this generator"}}
    assert model_facts.model_choice_line(dataclasses.replace(measured, metrics=trained)).endswith(
        "; ROC AUC 0.910 on face swaps made the way it was trained (not a test of other methods)."
    )
    said_no = {**measured.metrics, "dfdc_face_swaps": {"roc_auc": 0.7424, "trained_on_this_kind": "no"}}
    assert model_facts.model_choice_line(dataclasses.replace(measured, metrics=said_no)).endswith(
        "ROC AUC 0.742 on face swaps of another method."
    )
    average = dataclasses.replace(card, architecture="average(compact, resnet50)", metrics={}, training={})
    assert model_facts.model_choice_line(average) == "**tiny**: average of 2 networks."


def test_training_lines_name_the_data_without_where_it_was_stored() -> None:
    lines = model_facts.training_lines(
        {"data": "../shared/data/dfdc-faces (DFDC face crops, 224x224); ../shared/data/utkface (UTKFace photos)"}
    )
    assert lines == ["Training data: DFDC face crops, 224x224; UTKFace photos"]
    assert model_facts.training_lines({"extra_reals": "utkface"}) == ["Extra real faces: UTKFace photos of real people"]
    assert model_facts.training_lines({"extra_reals": "utkface_except_selection"}) == [
        "Extra real faces: UTKFace photos of real people (not those a later stage chose its epochs on)"
    ]


def test_the_thresholds_lines_say_which_judge_a_crop_and_which_a_video(tiny_models_folder: Path) -> None:
    card = model_card.read_card("tiny", tiny_models_folder)
    crop_only = model_facts.thresholds_lines(card, "confident")
    assert crop_only[0].startswith("A single face crop: “Likely manipulated” from 0.50,")
    assert "none were fitted on clips" in crop_only[1]
    video = model_card.Thresholds(fake=0.85, uncertain_low=0.14, chosen_on="clips of held-out people")
    fitted = dataclasses.replace(card, video_thresholds={"confident": video})
    lines = model_facts.thresholds_lines(fitted, "confident")
    assert "from 0.85," in lines[1] and "under 0.14," in lines[1] and "clips of held-out people" in lines[1]
    assert "none were fitted" in model_facts.thresholds_lines(fitted, "mean")[1]  # fitted for another aggregation


def test_whether_a_model_trained_on_a_sets_kind_is_said_in_its_data_words_not_as_a_raw_field() -> None:
    measured = {
        "dfdc_face_swaps": {"roc_auc": 0.8, "data": "swaps; a method this model was not trained on"},
        "dfdc_face_swaps_decisions": {"false_positive_rate": 0.1, "data": "swaps"},
    }
    for entry in measured.values():
        entry["trained_on_this_kind"] = "no"
    text = "\n".join(model_facts.metric_lines(measured))
    assert "a method this model was not trained on" in text
    assert "Trained" not in text and "trained_on" not in text


def test_scope_lines_drop_every_folder_of_a_mixed_runs_data(tiny_models_folder: Path) -> None:
    # A mixed run names two folders in one source, and a suffix after them.
    data = (
        "../shared/data/dfdc-faces (DFDC face crops, 224x224) and ../shared/data/dfdc-extra-fakes (4,000 second "
        "fakes, 160x160), split by source video; ../shared/data/ffpp-faces (FaceForensics++ crops, 144x144: YouTube "
        "reals, Deepfakes), split by group"
    )
    card = dataclasses.replace(model_card.read_card("tiny", tiny_models_folder), training={"data": data})
    line = model_facts.scope_lines([card])[0]
    assert "/" not in line and "../" not in line
    assert (
        "(DFDC face crops, 224x224 and 4,000 second fakes, 160x160, split by source video; FaceForensics++ crops, "
        "144x144: YouTube reals, Deepfakes, split by group)" in line
    )
