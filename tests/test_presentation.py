"""Tests for detector/presentation.py: the words and choices the page shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from detector import errors, model_card, presentation
from detector.aggregation import STRATEGIES
from detector.types import FaceBox, FaceScore, FrameRecord, Track, Verdict, VerdictLabel, VideoInfo, VideoResult


def make_info(codec: str = "h264", container: str = "mp4") -> VideoInfo:
    return VideoInfo(
        path="/tmp/x.mp4",
        size_bytes=1000,
        width=1920,
        height=1080,
        fps=30.0,
        frame_count=300,
        duration_seconds=10.0,
        codec=codec,
        container=container,
    )


def make_verdict(label: VerdictLabel, probability: float | None, frames_used: int = 10) -> Verdict:
    return Verdict(label, probability, "because", "confident", 0.5, frames_used=frames_used)


def make_result(track_probabilities: dict[int, list[float]], crops_missing: frozenset = frozenset()) -> VideoResult:
    """A result with one frame per probability position; track ``t``'s face in frame ``i`` scores ``p[i]``."""
    frame_count = max((len(values) for values in track_probabilities.values()), default=3)
    box = FaceBox(10, 10, 100, 100, 0.9)
    frames, tracks, crops = [], [], {}
    per_frame: dict[int, list[FaceScore]] = {index: [] for index in range(frame_count)}
    for track_id, values in track_probabilities.items():
        scores = []
        for index, value in enumerate(values):
            score = FaceScore(index, index / 10, box, track_id, value)
            scores.append(score)
            per_frame[index].append(score)
            if (index, track_id) not in crops_missing:
                crops[(index, track_id)] = np.zeros((8, 8, 3), np.uint8)
        tracks.append(Track(track_id, tuple(scores), make_verdict(VerdictLabel.FAKE, max(values))))
    for index in range(frame_count):
        frames.append(FrameRecord(index, index / 10, tuple(per_frame[index])))
    verdict = make_verdict(VerdictLabel.UNCERTAIN, None) if not tracks else tracks[0].verdict
    return VideoResult(make_info(), ("tiny",), tuple(frames), tuple(tracks), verdict, crops=crops)


def test_every_strategy_has_an_explanation() -> None:
    assert set(presentation.STRATEGY_EXPLANATIONS) == set(STRATEGIES)


@pytest.mark.parametrize(
    ("label", "probability", "headline", "tone"),
    [
        (VerdictLabel.FAKE, 0.8712, "Likely manipulated — fake probability 0.87", "fake"),
        (VerdictLabel.REAL, 0.05, "No sign of manipulation found — fake probability 0.05", "real"),
        (VerdictLabel.UNCERTAIN, 0.55, "Inconclusive — fake probability 0.55", "uncertain"),
        (VerdictLabel.UNCERTAIN, None, "Inconclusive", "uncertain"),
    ],
)
def test_verdict_headline_and_tone(label: VerdictLabel, probability: float | None, headline: str, tone: str) -> None:
    verdict = make_verdict(label, probability)
    assert presentation.verdict_headline(verdict) == headline
    assert presentation.verdict_tone(verdict) == tone


def test_probability_explanation_names_thresholds_and_frames() -> None:
    text = presentation.probability_explanation(make_verdict(VerdictLabel.FAKE, 0.9, 31), 0.6, 0.4)
    assert "0 (looks real) to 1 (looks manipulated)" in text
    assert "31 frames" in text and "“confident” strategy" in text
    assert "At 0.60 or above" in text and "from 0.40 up to 0.60 “Inconclusive”" in text


def test_probability_explanation_without_band_or_probability() -> None:
    text = presentation.probability_explanation(make_verdict(VerdictLabel.UNCERTAIN, None, 0), 0.5, 0.5)
    assert "no probability is given" in text
    assert "below it “No sign of manipulation found”" in text
    assert "Inconclusive" not in text.split("given.")[1]


@pytest.mark.parametrize(
    ("codec", "container", "playable", "mime"),
    [
        ("h264", "mp4", True, "video/mp4"),
        ("h264", "mov", True, "video/mp4"),
        ("av1", "mp4", True, "video/mp4"),
        ("vp9", "webm", True, "video/webm"),
        ("vp8", "webm", True, "video/webm"),
        ("hevc", "mp4", False, None),
        ("mpeg4", "avi", False, None),
        ("mjpeg", "avi", False, None),
        ("h264", "avi", False, None),
        ("h264", "matroska", False, None),
        ("h264", "webm", False, None),
        ("", "", False, None),
    ],
)
def test_browser_playback(codec: str, container: str, playable: bool, mime: str | None) -> None:
    info = make_info(codec, container)
    assert presentation.browser_can_play(info) is playable
    if playable:
        assert presentation.video_mime_type(info) == mime
    else:
        note = presentation.playback_note(info)
        assert "cannot play" in note and "not affected" in note


def test_playback_note_names_the_format() -> None:
    assert "MPEG-4 Part 2 in AVI" in presentation.playback_note(make_info("mpeg4", "avi"))
    assert "H.265 (HEVC) in MP4" in presentation.playback_note(make_info("hevc", "mp4"))
    assert "make the annotated video below" in presentation.playback_note(make_info("hevc", "mp4"))


def test_video_summary_counts_frames_with_faces() -> None:
    result = make_result({0: [0.2, 0.3]})
    result = VideoResult(
        result.info, result.model_names, (*result.frames, FrameRecord(9, 0.9)), result.tracks, result.verdict
    )
    text = presentation.video_summary(result)
    assert "1920 × 1080 pixels, 10.0 seconds at 30 frames per second, H.264 in MP4" in text
    assert "3 frames were examined; 2 of them showed a face" in text


def test_face_gallery_orders_people_and_faces_by_suspicion() -> None:
    result = make_result({0: [0.1, 0.3, 0.2], 1: [0.9, 0.7, 0.8]})
    people = presentation.face_gallery(result, max_faces=24)
    assert [person.track_id for person in people] == [1, 0]
    assert [person.label for person in people] == ["Person 2", "Person 1"]
    assert [score.fake_probability for score in people[0].faces] == [0.9, 0.8, 0.7]
    assert [score.fake_probability for score in people[1].faces] == [0.3, 0.2, 0.1]


def test_face_gallery_caps_faces_with_equal_shares() -> None:
    result = make_result({0: [0.5] * 20, 1: [0.6] * 20})
    people = presentation.face_gallery(result, max_faces=24)
    assert [len(person.faces) for person in people] == [12, 12]
    assert [person.total for person in people] == [20, 20]


def test_face_gallery_skips_faces_without_crop_and_empty_results() -> None:
    result = make_result({0: [0.5, 0.9]}, crops_missing=frozenset({(1, 0)}))
    people = presentation.face_gallery(result)
    assert [score.frame_index for score in people[0].faces] == [0]
    assert presentation.face_gallery(make_result({})) == []
    with pytest.raises(ValueError, match="max_faces"):
        presentation.face_gallery(result, max_faces=0)


def test_face_caption() -> None:
    score = FaceScore(12, 1.234, FaceBox(0, 0, 10, 10, 0.9), 0, 0.876)
    assert presentation.face_caption(score) == "0.88 at 1.2 s"


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
    lines = presentation.metric_lines(metrics)
    assert lines[0] == (
        "Validation, measured on DFDC face crops (2,000 face crops: 1,000 fake, 1,000 real), by scikit-learn:"
    )
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
    lines = presentation.metric_lines(metrics)
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
    lines = presentation.metric_lines({"validation": {"roc_auc": 0.87, "probabilities": calibrated}})
    assert f"- Probabilities {calibrated}: {presentation.CALIBRATED_MEANING}." in lines
    raw = presentation.metric_lines({"validation": {"probabilities": "raw model outputs (no calibration fitted)"}})
    assert raw[-1] == "- Probabilities: raw model outputs (no calibration fitted)"


def test_metric_lines_list_unknown_shapes_as_they_are() -> None:
    assert presentation.metric_lines({"validation": {"note": "untrained: not measured"}}) == [
        "Validation:",
        "- Note: untrained: not measured",
    ]
    assert presentation.metric_lines({"auc": 0.5}) == ["Auc: 0.500"]


def test_markdown_blocks_keep_paragraphs_out_of_list_items() -> None:
    text = presentation.markdown_blocks(["Validation:", "- ROC AUC 0.8", "- Log loss 0.5", "Decisions:", "- Rate"])
    assert text == "Validation:\n- ROC AUC 0.8\n- Log loss 0.5\n\nDecisions:\n- Rate"


def test_training_lines_say_which_fakes_in_words() -> None:
    lines = presentation.training_lines({"fakes": "both", "extra_reals": None, "init_weights": None})
    assert lines == ["Training fakes: half DFDC fake crops, half self-blended real faces (SBI)"]


def test_training_lines_say_at_what_size_the_network_sees_a_face() -> None:
    assert presentation.training_lines({"resolution": 128}) == [
        "Working resolution: 128 px (each face crop is shrunk to 128x128 before the network sees it)"
    ]


def test_training_lines_of_an_averaged_model_list_its_members() -> None:
    lines = presentation.training_lines({"members": ["a: first model.", "b: second model."], "data": "DFDC"})
    assert lines == ["Training data: DFDC", "Models averaged: a: first model.; b: second model."]


def test_training_lines_leave_out_run_mechanics() -> None:
    lines = presentation.training_lines(
        {"data": "DFDC crops", "train_count": 20000, "seed": 1, "command": "python -m detector", "sampler": "x"}
    )
    assert lines == ["Training data: DFDC crops", "Training face crops: 20,000", "Sampler: x"]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errors.UnreadableVideoError("x"), "plays in a video player"),
        (errors.VideoTooLargeError("x"), "compress"),
        (errors.NoFaceFoundError("x"), "face is clearly visible"),
        (errors.ModelNotFoundError("x"), "model files are missing"),
        (errors.ModelCardError("x"), "damaged"),
        (errors.DatasetError("x"), "Try another copy"),
    ],
)
def test_error_hint(error: errors.DetectorError, words: str) -> None:
    assert words in presentation.error_hint(error)


def test_no_model_message_says_how_to_train() -> None:
    text = presentation.no_model_message(Path("/somewhere/models"))
    assert "No trained model is installed" in text
    assert "python -m detector train" in text and "/somewhere/models" in text


@pytest.mark.parametrize(
    ("stage", "fraction", "expected"),
    [
        ("reading", 0.0, 0.0),
        ("faces", 0.0, 0.05),
        ("faces", 1.0, 0.9),
        ("faces", 2.0, 0.9),
        ("scoring", 1.0, 1.0),
        ("something else", 0.5, 0.5),
    ],
)
def test_overall_progress(stage: str, fraction: float, expected: float) -> None:
    assert presentation.overall_progress(stage, fraction) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"), [("clip.mp4", "clip-deepfake-check.json"), (".mp4", ".mp4-deepfake-check.json")]
)
def test_report_file_name(name: str, expected: str) -> None:
    assert presentation.report_file_name(name, "json") == expected


@pytest.mark.parametrize(
    ("label", "probability", "used", "above", "expected"),
    [
        (VerdictLabel.FAKE, 0.87, 32, 27, "Person 2: Likely manipulated, in 27 of 32 frames"),
        (VerdictLabel.REAL, 0.1, 32, 2, "Person 2: No sign of manipulation found, in 30 of 32 frames"),
        (VerdictLabel.UNCERTAIN, 0.45, 32, 12, "Person 2: Inconclusive, 12 of 32 frames look manipulated"),
        (VerdictLabel.UNCERTAIN, None, 1, 0, "Person 2: Inconclusive, a usable face in only 1 frame"),
        (VerdictLabel.UNCERTAIN, None, 3, 1, "Person 2: Inconclusive, a usable face in only 3 frames"),
    ],
)
def test_person_summary(label: VerdictLabel, probability: float | None, used: int, above: int, expected: str) -> None:
    verdict = Verdict(label, probability, "because", "mean", 0.5, frames_used=used, frames_above_threshold=above)
    assert presentation.person_summary(1, verdict) == expected


def test_video_format_names_codec_and_container() -> None:
    assert presentation.video_format(make_info("hevc", "matroska")) == "H.265 (HEVC) in MKV"
    assert presentation.video_format(make_info("h264", "")) == "H.264"
    assert presentation.video_format(make_info("", "")) == "unknown"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ("../shared/data/dfdc-faces (DFDC face crops, 224x224)", "(DFDC face crops, 224x224)"),
        ("DFDC face swaps", "(DFDC face swaps)"),
        (
            "../a/dfdc (DFDC crops); ../a/utk (UTKFace photos, some held out)",
            "(DFDC crops; UTKFace photos, some held out)",
        ),
        (None, "(the data named in its model card)"),
    ],
)
def test_scope_lines_name_the_cards_training_data_and_the_limits(
    tiny_models_folder: Path, data: str | None, shown: str
) -> None:
    card = dataclasses.replace(model_card.read_card("tiny", tiny_models_folder), training={"data": data})
    lines = presentation.scope_lines([card, card])
    assert len(lines) == 3
    assert lines[0].startswith("**Can judge:**") and lines[0].count(shown) == 1
    assert "../shared" not in lines[0]
    assert lines[1].startswith("**Cannot judge:**")
    for words in ("generated entirely by AI", "audio", "voice", "elsewhere in the picture"):
        assert words in lines[1]
    assert "heavily compressed" in lines[2] and "small, blurry" in lines[2] and "“Inconclusive”" in lines[2]


def test_scope_lines_without_a_card_or_with_two_datasets(tiny_models_folder: Path) -> None:
    assert "(the data named in its model card)" in presentation.scope_lines([])[0]
    card = model_card.read_card("tiny", tiny_models_folder)
    first = dataclasses.replace(card, training={"data": "DFDC face crops"})
    second = dataclasses.replace(card, training={"data": "UTKFace"})
    assert "(DFDC face crops; UTKFace)" in presentation.scope_lines([first, second])[0]


def test_explanation_caption_says_what_the_map_is_and_is_not() -> None:
    assert presentation.EXPLANATION_CAPTION == (
        "Warmer areas are where the model looked most when scoring this face. It shows what drove the score, not "
        "proof of where the video was edited."
    )
    assert presentation.EXPLANATION_TOGGLE == "Show where the model looked"
    assert presentation.SCOPE_TITLE == "What this checker can and cannot judge"


def test_a_photo_is_described_as_a_photo_and_its_one_frame_as_scores():
    from conftest import make_result

    photo_info = VideoInfo("/tmp/p.jpg", 1000, 640, 480, 1.0, 1, 0.0, codec="mjpeg", container="jpeg")
    result = dataclasses.replace(make_result({0: [0.873], 1: [0.12]}), info=photo_info)

    assert presentation.video_format(photo_info) == "JPEG photo"
    assert presentation.video_summary(result) == "640 × 480 pixels, JPEG photo. It shows a face the model could judge."
    assert presentation.single_frame_scores(result) == [
        "Person 1: fake probability 0.87",
        "Person 2: fake probability 0.12",
    ]
    with pytest.raises(ValueError, match="one frame"):
        presentation.single_frame_scores(make_result({0: [0.5, 0.6]}))


def test_metric_lines_show_a_recorded_evaluation_with_its_data_unit_and_rates() -> None:
    context = {"data": "held-out real photos", "unit": "videos", "measured_by": "python -m detector evaluate"}
    metrics = {
        "unseen_reals": {"log_loss": 0.29, "count": 40, "count_fake": 0, "count_real": 40, **context},
        "unseen_reals_intervals": {"method": "percentile bootstrap", "log_loss": [0.27, 0.31]},
        "unseen_reals_decisions": {"false_positive_rate": 0.039, "uncertain_share": 0.51, "count": 40, **context},
    }
    lines = presentation.metric_lines(metrics)
    assert lines[0] == (
        "Unseen reals, measured on held-out real photos (40 videos: 0 fake, 40 real), by python -m detector evaluate:"
    )
    assert lines[1].startswith("- Log loss 0.290 (95% range 0.270 to 0.310): ")
    assert lines[2].startswith("Unseen reals, at the card's thresholds, measured on held-out real photos (40 videos)")
    assert lines[3:] == [
        "- Real crops wrongly called “Likely manipulated”: 3.9%.",
        "- Crops left “Inconclusive”: 51.0%.",
    ]


def test_a_model_choice_line_says_what_the_model_is_and_its_two_comparable_numbers(tiny_models_folder: Path) -> None:
    card = model_card.read_card("tiny", tiny_models_folder)
    measured = dataclasses.replace(
        card,
        training={**card.training, "resolution": 128},
        metrics={
            "validation": {"roc_auc": 0.8706},
            "unseen_real_faces_decisions": {"false_positive_rate": 0.0387},
        },
        extra={"default": True},
    )
    assert presentation.model_choice_line(measured) == (
        "**tiny** (default): compact CNN at 128 px; ROC AUC 0.871 on DFDC validation crops; "
        "calls 3.9% of unseen real faces fake."
    )
    average = dataclasses.replace(card, architecture="average(compact, resnet50)", metrics={}, training={})
    assert presentation.model_choice_line(average) == "**tiny**: average of 2 networks."
