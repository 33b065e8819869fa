"""Tests for detector/presentation.py: the words and choices the page shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from detector import errors
from detector.analysis.aggregation import STRATEGIES
from detector.outputs import presentation
from detector.types import (
    DecisionThresholds,
    FaceBox,
    FaceScore,
    FrameRecord,
    Track,
    Verdict,
    VerdictLabel,
    VideoInfo,
    VideoResult,
)


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
    return Verdict(label, probability, "because", "confident", 0.5, 0.3, frames_used=frames_used)


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
    thresholds = DecisionThresholds(0.5, 0.5, "chosen for this test")
    return VideoResult(make_info(), ("tiny",), tuple(frames), tuple(tracks), verdict, thresholds, crops=crops)


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
        result.info,
        result.model_names,
        (*result.frames, FrameRecord(9, 0.9)),
        result.tracks,
        result.verdict,
        result.thresholds,
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
    thresholds = DecisionThresholds(0.866, 0.1516, "clips")
    score = FaceScore(12, 1.234, FaceBox(0, 0, 10, 10, 0.9), 0, 0.876)
    assert presentation.face_caption(score, thresholds) == "0.88 at 1.2 s"
    # Just under the threshold: not "0.87", which would read as at or above "0.866".
    near = FaceScore(12, 1.234, FaceBox(0, 0, 10, 10, 0.9), 0, 0.8655)
    assert presentation.face_caption(near, thresholds) == "0.8655 at 1.2 s"


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
    ("label", "probability", "used", "above", "below", "expected"),
    [
        (VerdictLabel.FAKE, 0.87, 32, 27, 1, "Person 2: Likely manipulated, in 27 of 32 frames"),
        # Frames in the inconclusive band (here 32 - 2 - 21) do not count as showing no sign.
        (VerdictLabel.REAL, 0.1, 32, 2, 21, "Person 2: No sign of manipulation found, in 21 of 32 frames"),
        (VerdictLabel.UNCERTAIN, 0.45, 32, 12, 4, "Person 2: Inconclusive, 12 of 32 frames look manipulated"),
        (VerdictLabel.UNCERTAIN, None, 1, 0, 0, "Person 2: Inconclusive, a usable face in only 1 frame"),
        (VerdictLabel.UNCERTAIN, None, 3, 1, 1, "Person 2: Inconclusive, a usable face in only 3 frames"),
    ],
)
def test_person_summary(
    label: VerdictLabel, probability: float | None, used: int, above: int, below: int, expected: str
) -> None:
    verdict = Verdict(label, probability, "because", "mean", 0.5, 0.3, used, above, below)
    assert presentation.person_summary(1, verdict) == expected


def test_video_format_names_codec_and_container() -> None:
    assert presentation.video_format(make_info("hevc", "matroska")) == "H.265 (HEVC) in MKV"
    assert presentation.video_format(make_info("h264", "")) == "H.264"
    assert presentation.video_format(make_info("", "")) == "unknown"


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


def test_the_table_of_several_files_has_a_row_for_each_checked_or_not() -> None:
    result = make_result({0: [0.9, 0.8]})
    row = presentation.summary_row("clip.mp4", result.verdict)
    assert row["File"] == "clip.mp4" and row["Verdict"] == result.verdict.label.plain_words
    assert row["Fake probability"] == f"{result.verdict.fake_probability:.2f}" and row["Reason"]
    failed = presentation.error_row("notes.mp4", "This is not a video the checker can read.\n\nTry another copy.")
    assert failed == {
        "File": "notes.mp4",
        "Verdict": "Not checked",
        "Fake probability": "—",
        "Reason": "This is not a video the checker can read.",
    }
    assert presentation.choice_label("notes.mp4", None) == "notes.mp4: not checked"
