"""detector/shipping/default_rule.py: the rule for a new default, line by line, and `python -m detector judge`."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from conftest import SAMPLE_VIDEOS, requires_samples

from detector.cli import main as cli
from detector.models import model_card
from detector.shipping import default_rule
from detector.types import VerdictLabel

# The default's figures (wide_trio's, rounded): DFDC, the four never-trained sets, the four FF++ methods, unseen
# people called fake, and the ECEs on DFDC, unseen people and the eight sets.
DEFAULT = {
    "auc": 0.894,
    "never": (0.679, 0.754, 0.521, 0.498),
    "ffpp": (0.723, 0.561, 0.664, 0.532),
    "called": 0.018,
    "dfdc_ece": 0.034,
    "unseen_ece": 0.211,
    "eight_ece": (0.225, 0.119, 0.299, 0.295, 0.136, 0.170, 0.136, 0.181),
}
# A candidate that passes every line read from the cards, each with room.
BETTER = {
    "auc": 0.900,
    "never": (0.740, 0.776, 0.576, 0.502),
    "ffpp": (0.760, 0.608, 0.688, 0.561),
    "called": 0.009,
    "dfdc_ece": 0.019,
    "unseen_ece": 0.116,
    "eight_ece": (0.214, 0.110, 0.279, 0.204, 0.155, 0.147, 0.152, 0.161),
}


def _metrics(figures: dict) -> dict:
    metrics = {
        "validation": {"roc_auc": figures["auc"], "expected_calibration_error": figures["dfdc_ece"]},
        "unseen_real_faces": {"count": 2493, "expected_calibration_error": figures["unseen_ece"]},
        "unseen_real_faces_decisions": {"false_positive_rate": figures["called"]},
    }
    keys = default_rule.NEVER_TRAINED + default_rule.FFPP
    for key, auc, ece in zip(keys, figures["never"] + figures["ffpp"], figures["eight_ece"], strict=True):
        metrics[key] = {"roc_auc": auc, "expected_calibration_error": ece}
    return metrics


@pytest.fixture
def card_with(tiny_models_folder):
    base = model_card.read_card("tiny", tiny_models_folder)

    def make(name: str, figures: dict) -> model_card.ModelCard:
        return dataclasses.replace(base, name=name, metrics=_metrics(figures))

    return make


def _outcomes(lines: list[default_rule.Line]) -> list[tuple[int, bool | None]]:
    return [(line.number, line.passed) for line in lines]


def test_a_candidate_better_on_every_figure_passes_every_line_the_cards_hold(card_with):
    lines = default_rule.judge_cards(card_with("candidate", BETTER), card_with("default", DEFAULT))
    assert [line.number for line in lines] == [1, 2, 2, 2, 3, 4, 4, 4]
    assert all(line.passed for line in lines)
    assert "0.889" in lines[0].asks and "0.633" in lines[1].asks and "+0.036" in lines[1].candidate
    assert "0.231" in lines[6].asks


def _changed(figures: dict, **changes) -> dict:
    return {**figures, **changes}


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        # Line 1: DFDC may lose at most 0.005.
        ({"auc": 0.888}, 1),
        # Line 2: the never-trained mean must gain more than 0.02 (here +0.019) ...
        ({"never": (0.698, 0.773, 0.540, 0.517)}, 2),
        # ... with no set down by more than 0.01 (the last one 0.011 down, the mean still up by 0.03) ...
        ({"never": (0.740, 0.776, 0.576, 0.487)}, 2),
        # ... and the FF++ mean above the default's (equal is not above).
        ({"ffpp": DEFAULT["ffpp"]}, 2),
        # Line 3: at most 5% of unseen people called fake.
        ({"called": 0.051}, 3),
        # Line 4: DFDC ECE at most 0.05; unseen people at most the default's plus 0.02; the eight-set mean at most
        # the default's (here 0.001 above it).
        ({"dfdc_ece": 0.051}, 4),
        ({"unseen_ece": 0.232}, 4),
        ({"eight_ece": (0.226, 0.119, 0.299, 0.295, 0.136, 0.170, 0.136, 0.189)}, 4),
    ],
)
def test_each_clause_fails_its_own_line_alone(card_with, changes, failing):
    lines = default_rule.judge_cards(card_with("candidate", _changed(BETTER, **changes)), card_with("d", DEFAULT))
    assert {line.number for line in lines if line.passed is False} == {failing}
    assert sum(line.passed is False for line in lines) == 1
    assert default_rule.verdict(lines) == f"fails line {failing}: not shipped"


def test_a_set_down_by_less_than_the_margin_still_passes(card_with):
    lines = default_rule.judge_cards(
        card_with("c", _changed(BETTER, never=(0.740, 0.776, 0.576, 0.489))), card_with("d", DEFAULT)
    )
    assert all(line.passed for line in lines)


def test_a_figure_missing_from_either_card_is_not_measured_never_passed(card_with):
    candidate = card_with("candidate", BETTER)
    metrics = {key: value for key, value in candidate.metrics.items() if key != "ffpp_face2face"}
    lines = default_rule.judge_cards(dataclasses.replace(candidate, metrics=metrics), card_with("d", DEFAULT))
    unmeasured = [line for line in lines if line.passed is None]
    # The FF++ mean (line 2) and the eight-set ECE (line 4) need every FF++ method.
    assert [line.number for line in unmeasured] == [2, 4]
    assert all("not measured" in line.candidate for line in unmeasured)
    assert default_rule.verdict(lines) == "not yet judged: lines 2, 4 not measured"
    # A failing line decides, whatever else is not measured.
    failing = default_rule.judge_cards(
        dataclasses.replace(candidate, metrics={**metrics, "validation": {"roc_auc": 0.5}}), card_with("d", DEFAULT)
    )
    assert default_rule.verdict(failing) == "fails line 1: not shipped"


def _clip(name: str, label: int, verdict: VerdictLabel, probability: float | None = 0.5):
    return default_rule.ClipVerdict(name, label, verdict, probability)


GOOD_CLIPS = [
    _clip("fake_a.mp4", 1, VerdictLabel.FAKE, 0.98),
    _clip("fake_b.mp4", 1, VerdictLabel.FAKE, 0.87),
    _clip("real_a.mp4", 0, VerdictLabel.REAL, 0.04),
    _clip("real_b.mp4", 0, VerdictLabel.UNCERTAIN, 0.44),
    _clip("real_c.mp4", 0, VerdictLabel.UNCERTAIN, None),
]


@pytest.mark.parametrize(
    ("changed", "passes"),
    [
        ({}, True),
        # A real clip called fake fails; so does a fake one left inconclusive or called clean.
        ({2: _clip("real_a.mp4", 0, VerdictLabel.FAKE, 0.9)}, False),
        ({1: _clip("fake_b.mp4", 1, VerdictLabel.UNCERTAIN, 0.73)}, False),
        ({0: _clip("fake_a.mp4", 1, VerdictLabel.REAL, 0.1)}, False),
    ],
)
def test_the_sample_clips_keep_every_real_one_and_catch_every_fake_one(changed, passes):
    clips = [changed.get(index, clip) for index, clip in enumerate(GOOD_CLIPS)]
    line = default_rule.judge_sample_clips(clips, GOOD_CLIPS)
    assert line.number == 3 and line.passed is passes
    assert "fake_b.mp4 (fake): " in line.candidate and "real_c.mp4 (real): Inconclusive" in line.candidate


def test_sample_clips_decided_without_video_thresholds_are_shown_but_not_measured():
    line = default_rule.judge_sample_clips(GOOD_CLIPS, GOOD_CLIPS, video_thresholds=False)
    assert line.passed is None and "fake_a.mp4 (fake): Likely manipulated" in line.candidate
    assert "no video thresholds" in line.candidate


def test_sample_clips_not_run_are_not_measured():
    line = default_rule.judge_sample_clips([], [])
    assert line.passed is None and line.candidate == "not measured"


@pytest.mark.parametrize(("candidate", "passes"), [(2.0, True), (1.2, True), (2.02, False), (None, None)])
def test_the_time_may_be_at_most_twice_the_defaults(candidate, passes):
    line = default_rule.judge_time(candidate, 1.0 if candidate is not None else None)
    assert line.number == 5 and line.passed is passes


def test_a_default_time_of_zero_is_a_broken_measurement():
    with pytest.raises(ValueError, match="positive"):
        default_rule.judge_time(1.0, 0.0)


def test_the_table_has_a_row_per_line_and_marks_failures(card_with):
    lines = default_rule.judge_cards(card_with("c", _changed(BETTER, auc=0.8)), card_with("d", DEFAULT))
    rows = default_rule.table(lines, "c", "d")
    assert rows[0] == "| line | asks | d (default) | c | passes |" and len(rows) == 2 + len(lines)
    assert rows[2].startswith("| 1 |") and rows[2].endswith("| **no** |")


@requires_samples
def test_both_models_take_turns_on_each_sample_clip(tiny_models_folder, tmp_path):
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.training import datasets

    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nlynaeydofd.mp4,REAL\nabqwwspghj.mp4,FAKE\n")
    clips = datasets.read_labels(labels, SAMPLE_VIDEOS)
    scorers = {name: load_scorer(["tiny"], tiny_models_folder) for name in ("candidate", "default")}
    config = AnalysisConfig(frames_to_sample=4)
    with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
        runs = default_rule.run_sample_clips(clips, scorers, config, detector)
    assert set(runs) == {"candidate", "default"}
    for run in runs.values():
        assert [(clip.file, clip.label) for clip in run.verdicts] == [("lynaeydofd.mp4", 0), ("abqwwspghj.mp4", 1)]
        assert all(clip.fake_probability is not None for clip in run.verdicts) and run.scoring_seconds > 0
    # The same untrained weights give the same verdicts, whichever took its turn first.
    assert runs["candidate"].verdicts == runs["default"].verdicts


def test_judge_prints_the_table_and_the_outcome_from_the_cards(card_with, tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    model_card.write_card(card_with("candidate", _changed(BETTER, eight_ece=(0.4,) * 8)), folder)
    model_card.write_card(card_with("incumbent", DEFAULT), folder)
    arguments = ["judge", "--model", "candidate", "--models-folder", str(folder), "--default", "incumbent"]
    status = cli.main([*arguments, "--default-folder", str(folder), "--cards-only"])
    assert status == 0
    out = capsys.readouterr().out
    assert "| line | asks | incumbent (default) | candidate | passes |" in out
    assert out.strip().endswith("candidate fails line 4: not shipped")
    assert out.count("not measured") >= 2  # the sample clips and the time, skipped


def _judge_rows(arguments: list[str], capsys) -> tuple[str, str, str]:
    assert cli.main(arguments) == 0
    captured = capsys.readouterr()
    rows = [row for row in captured.out.splitlines() if row.startswith(("| 3 |", "| 5 |"))]
    clip_row = next(row for row in rows if row.split(" | ")[1].startswith("sample clips"))
    time_row = next(row for row in rows if row.split(" | ")[1].startswith("scoring time"))
    return clip_row, time_row, captured.err


@requires_samples
def test_judge_runs_both_models_on_the_sample_clips_for_lines_3_and_5(tiny_models_folder, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "abqwwspghj.mp4").symlink_to(SAMPLE_VIDEOS / "abqwwspghj.mp4")
    (clips / "labels.csv").write_text("file,label\nabqwwspghj.mp4,FAKE\n")
    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", folder / f"tiny{suffix}")
    arguments = ["judge", "--model", "tiny", "--models-folder", str(folder), "--default", "tiny"]
    arguments += ["--default-folder", str(folder), "--sample-clips", str(clips)]

    # Without video thresholds the page would decide at the crop thresholds: shown, not judged.
    clip_row, time_row, err = _judge_rows(arguments, capsys)
    assert "abqwwspghj.mp4 (fake): " in clip_row and "no video thresholds" in clip_row
    assert clip_row.endswith("| not measured |") and "sample clips: 1 in" in err

    card = model_card.read_card("tiny", folder)
    fitted = {"fake": 0.7, "uncertain_low": 0.2, "chosen_on": "clips (for this test)"}
    strategies = ("mean", "median", "confident")
    model_card.write_card(dataclasses.replace(card, video_thresholds=dict.fromkeys(strategies, fitted)), folder)
    clip_row, time_row, _ = _judge_rows(arguments, capsys)
    # An untrained model may call the fake anything, but it was run and judged: neither line is left unmeasured.
    assert "abqwwspghj.mp4 (fake): " in clip_row and "not measured" not in clip_row
    assert "x) |" in time_row and "not measured" not in time_row


def test_judge_of_a_missing_model_is_one_clear_line(tiny_models_folder, capsys):
    status = cli.main(["judge", "--model", "absent", "--models-folder", str(tiny_models_folder), "--cards-only"])
    assert status == 1
    assert capsys.readouterr().err.startswith("error: ")
