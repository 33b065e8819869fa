"""Tests for detector/outputs/model_summary.py: a model's measurements in a few sentences and one small table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detector.models import model_card
from detector.outputs import model_summary
from detector.types import VerdictLabel

MEASURED = {
    "decisions": {"false_positive_rate": 0.088, "false_negative_rate": 0.041, "uncertain_share": 0.43, "count": 2078},
    "dfdc_face_swaps_decisions": {
        "false_positive_rate": 0.078,
        "false_negative_rate": 0.145,
        "uncertain_share": 0.5,
        "count": 4112,
    },
    "unseen_real_faces_decisions": {"false_positive_rate": 0.039, "uncertain_share": 0.51, "count": 1240},
    "validation": {"roc_auc": 0.87},
}


def test_rows_follow_the_reviewers_order_and_leave_out_what_the_data_cannot_have() -> None:
    rows = model_summary.measured_rows(MEASURED)
    assert [row.kind for row in rows] == [
        model_summary.MEASURED_KINDS[0][1],
        model_summary.MEASURED_KINDS[1][1],
        dict(model_summary.MEASURED_KINDS)["unseen_real_faces_decisions"],
    ]
    learned, swaps, reals = rows
    assert (learned.real_called_fake, learned.fakes_missed, learned.inconclusive) == (0.088, 0.041, 0.43)
    assert swaps.count == 4112
    # Photos of real people hold no fakes: nothing can be missed, and the table says so rather than "0%".
    assert reals.fakes_missed is None
    cells = model_summary.table_rows(rows)
    assert cells[0] == {
        "Measured on": model_summary.MEASURED_KINDS[0][1],
        "Real faces called fake": "9%",
        "Fakes missed (called real)": "4%",
        "Left inconclusive": "43%",
    }
    assert cells[2]["Fakes missed (called real)"] == "—"


def test_the_summary_says_how_it_did_and_that_other_methods_fool_it_more() -> None:
    rows = model_summary.measured_rows(MEASURED)
    text = " ".join(model_summary.summary_sentences("a small convolutional network", rows))
    assert "missed 4% of fake faces and called 9% of real faces fake, leaving 43% undecided" in text
    assert "missed up to 14% of those" in text
    assert "single faces" in text


def test_the_worst_other_kind_says_how_many_of_its_fakes_were_left_undecided_and_how_many_flagged() -> None:
    measured = {
        **MEASURED,
        "dfdc_face_swaps_decisions": {**MEASURED["dfdc_face_swaps_decisions"], "uncertain_share_fake": 0.45},
        "unseen_face_swaps_decisions": {
            "false_positive_rate": 0.05,
            "false_negative_rate": 0.1,
            "uncertain_share_fake": 0.7,
            "count": 900,
        },
    }
    rows = model_summary.measured_rows(measured)
    assert rows[1].fakes_inconclusive == 0.45
    assert rows[-1].fakes_inconclusive is None  # photos of real people: no fakes to leave undecided
    text = " ".join(model_summary.summary_sentences("a small convolutional network", rows))
    # The kind that missed most (14.5% called clean), not the one that caught fewest: its fakes, undecided, flagged.
    assert (
        "fooled it most — face swaps made another way, on the same kind of video — it called 14% of those fakes "
        in text
    )
    assert "real and left 45% of them undecided, flagging only 40%." in text


def test_the_kind_that_fooled_it_most_may_be_an_expression_change() -> None:
    measured = {
        **MEASURED,
        "utkface_reenactments_decisions": {
            "false_positive_rate": 0.02,
            "false_negative_rate": 0.61,
            "uncertain_share_fake": 0.36,
            "count": 900,
        },
    }
    text = " ".join(
        model_summary.summary_sentences("a small convolutional network", model_summary.measured_rows(measured))
    )
    assert "— changed mouth or lower face (expression), in photos of people it never saw — it called 61%" in text


def test_fakes_made_the_way_a_model_trained_is_not_called_another_way_nor_counted_as_one() -> None:
    trained = {
        **MEASURED,
        "dfdc_face_swaps_decisions": {
            **MEASURED["dfdc_face_swaps_decisions"],
            model_card.TRAINED_ON_KIND: "yes: this generator, on its own training people",
        },
    }
    rows = model_summary.measured_rows(trained)
    swaps = rows[1]
    assert swaps.trained_on and "another way" not in swaps.kind
    assert swaps.kind.startswith("Face swaps, on the same kind of video: made the way some of its training fakes")
    # It misses more of them than of DFDC's fakes, but they are not another method to it.
    assert swaps.fakes_missed > rows[0].fakes_missed
    text = " ".join(model_summary.summary_sentences("a small convolutional network", rows))
    assert "Manipulations made another way" not in text
    said_no = {**MEASURED["dfdc_face_swaps_decisions"], model_card.TRAINED_ON_KIND: "no"}
    assert not model_summary.measured_rows({"dfdc_face_swaps_decisions": said_no})[0].trained_on


def test_a_model_without_measurements_says_its_scores_cannot_be_trusted() -> None:
    assert model_summary.measured_rows({}) == []
    text = " ".join(model_summary.summary_sentences("a small convolutional network", []))
    assert "cannot be trusted" in text


@pytest.mark.parametrize(
    ("architecture", "words"),
    [
        ("average(compact, compact, compact)", "the average of three small convolutional networks"),
        ("average(compact, resnet50)", "the average of two networks"),
        ("resnet50", "a ResNet50 network"),
        ("compact", "a small convolutional network"),
        ("something_new", "a neural network"),
    ],
)
def test_plain_kind_never_shows_code_style_names(tiny_models_folder: Path, architecture: str, words: str) -> None:
    card = dataclasses.replace(model_card.read_card("tiny", tiny_models_folder), architecture=architecture)
    assert model_summary.plain_kind(card) == words


BENCHMARKED = {
    "validation": {"roc_auc": 0.871},
    "dfdc_face_swaps": {"roc_auc": 0.742},
    "dfdc_reenactments": {"roc_auc": 0.492},
    "ffpp_face2face": {"roc_auc": 0.529},
    "unseen_real_faces": {"expected_calibration_error": 0.246},
    "clips": {"roc_auc": 0.55},
}


def test_blind_spots_are_the_fakes_every_model_ranked_near_chance() -> None:
    words = dict(model_summary.MEASURED_KINDS)
    assert model_summary.blind_spots([BENCHMARKED]) == [
        (words["dfdc_reenactments_decisions"], 0.492),
        (words["ffpp_face2face_decisions"], 0.529),
    ]
    # A second model that ranks Face2Face well takes it off the list; one never measured on a kind cannot vouch
    # for it, so that kind is not claimed either way.
    better = {"dfdc_reenactments": {"roc_auc": 0.55}, "ffpp_face2face": {"roc_auc": 0.8}}
    assert model_summary.blind_spots([BENCHMARKED, better]) == [(words["dfdc_reenactments_decisions"], 0.55)]
    assert model_summary.blind_spots([BENCHMARKED, {}]) == []
    assert model_summary.blind_spots([{}]) == []


@pytest.mark.parametrize("label", [VerdictLabel.REAL, VerdictLabel.UNCERTAIN])
def test_a_clean_or_inconclusive_verdict_says_what_it_cannot_rule_out(label: VerdictLabel) -> None:
    caveat = model_summary.clean_result_caveat(label, [BENCHMARKED])
    assert caveat is not None and caveat.startswith(f"“{label.plain_words}” does not rule out")
    assert "ROC AUC at most 0.53" in caveat and "the model tells" in caveat
    # The kinds read inside the sentence; a name keeps its capitals.
    assert "changed mouth or lower face" in caveat and "FaceForensics++ changed expressions" in caveat
    assert "each of the models" in model_summary.clean_result_caveat(label, [BENCHMARKED, BENCHMARKED])


def test_a_manipulated_verdict_or_a_model_without_blind_spots_gets_no_caveat() -> None:
    assert model_summary.clean_result_caveat(VerdictLabel.FAKE, [BENCHMARKED]) is None
    assert model_summary.clean_result_caveat(VerdictLabel.REAL, [{"dfdc_face_swaps": {"roc_auc": 0.742}}]) is None
