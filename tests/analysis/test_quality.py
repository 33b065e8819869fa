"""Tests for detector/quality.py: the measurements, the issues they raise and the downgrade rule."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from conftest import SHARED, make_result, requires_shared
from video_factory import make_video, pasted_faces

from detector.analysis import aggregation, pipeline, quality
from detector.analysis.scoring import load_scorer
from detector.config import AnalysisConfig
from detector.outputs import export
from detector.training import datasets
from detector.types import FaceBox, QualityIssue, Track, Verdict, VerdictLabel, VideoInfo

LIMITS = quality.QualityThresholds()
FACE = SHARED / "data" / "dfdc-faces" / "faces" / "abplofmgwg.jpg"


def texture(kind: str, size: int = 224) -> np.ndarray:
    """A sharp synthetic ``(size, size, 3) uint8 RGB`` pattern."""
    y, x = np.mgrid[0:size, 0:size]
    if kind == "checkerboard":
        grey = ((x // 6 + y // 6) % 2) * 200 + 25
    elif kind == "stripes":
        grey = 128 + 100 * np.sin(x / 2.0) * np.cos(y / 7.0)
    else:  # Smoothed noise: texture at every scale, like skin and hair.
        grey = cv2.GaussianBlur(np.random.default_rng(0).uniform(0, 255, (size, size)), (0, 0), 0.8) * 1.5 - 60
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def smooth_scene(size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A smooth picture (gradients, a soft disc) with camera-like grain, ``(H, W, 3) uint8 RGB``.

    Without grain, steps of a smooth gradient under one grey level are all there is inside the blocks, and even
    JPEG at quality 95 shows its blocks; grain of 3 grey levels is what a camera adds.
    """
    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / width * 200 + 20, y / height * 180 + 40, 128 + 60 * np.sin((x + y) / 23.0)], axis=-1)
    cv2.circle(image, (width // 3 + 3, height // 2 + 5), 41, (230, 200, 60), -1)
    grain = np.random.default_rng(0).normal(0.0, 3.0, (height, width, 1))
    return np.clip(cv2.GaussianBlur(image, (0, 0), 2.0) + grain, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality_level: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality_level])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def info(duration: float = 10.0) -> VideoInfo:
    frames = max(1, round(duration * 30))
    return VideoInfo("clip.mp4", 1_000_000, 1280, 720, 30.0, frames, duration, codec="h264")


def faces(track_values: dict[int, list[tuple[float, float, float]]]) -> dict[tuple[int, int], quality.FaceQuality]:
    """Measurements by ``(frame_index, track_id)``: one ``(face_pixels, sharpness, blockiness)`` per frame."""
    return {
        (position, track_id): quality.FaceQuality(*values)
        for track_id, per_frame in track_values.items()
        for position, values in enumerate(per_frame)
    }


GOOD = (150.0, 50.0, 1.0)
SMALL = (60.0, 50.0, 1.0)
BLURRY = (150.0, 1.0, 1.0)
BLOCKY = (150.0, 50.0, 1.5)


@pytest.mark.parametrize("kind", ["checkerboard", "stripes", "noise"])
@pytest.mark.parametrize("sigma", [5.0, 8.0])
def test_blurring_a_sharp_pattern_takes_it_below_the_sharpness_threshold(kind, sigma):
    sharp = texture(kind)
    blurred = cv2.GaussianBlur(sharp, (0, 0), sigma)
    assert quality.sharpness(sharp) > 10 * LIMITS.min_sharpness
    assert quality.sharpness(blurred) < LIMITS.min_sharpness
    assert quality.sharpness(blurred) < quality.sharpness(sharp) / 20


def test_a_flat_image_has_no_sharpness_and_no_blocking():
    flat = np.full((64, 64, 3), 120, np.uint8)
    assert quality.sharpness(flat) == 0.0
    assert quality.blockiness(flat) == pytest.approx(1.0)


@pytest.mark.parametrize("size", [(240, 320), (64, 64), (1080, 1920)])
def test_jpeg_at_quality_10_is_blocky_and_at_95_is_not(size):
    scene = smooth_scene(size)
    low, high = quality.blockiness(jpeg(scene, 10)), quality.blockiness(jpeg(scene, 95))
    assert low > LIMITS.max_blockiness
    assert high < LIMITS.max_blockiness
    assert high == pytest.approx(1.0, abs=0.1)
    assert low > high + 0.3


def test_blockiness_looks_for_the_grid_where_the_codec_put_it():
    blocky = jpeg(smooth_scene(), 10)
    # Four pixels off the grid, the block edges fall inside the measured blocks: the ratio drops to about 1.
    assert quality.blockiness(blocky[4:, 4:]) < 1.1 < quality.blockiness(blocky)


@pytest.mark.parametrize(
    "box, expected",
    [
        (FaceBox(13, 21, 50, 40, 0.9), (slice(24, 56), slice(16, 56))),  # the whole blocks inside the box
        (FaceBox(100, 100, 20, 20, 0.9), (slice(104, 120), slice(104, 120))),
        (FaceBox(300, 220, 30, 30, 0.9), (slice(224, 240), slice(304, 320))),  # clipped at the frame's edge
        (FaceBox(-20, -10, 30, 24, 0.9), (slice(0, 16), slice(0, 16))),  # past the top-left corner: 2 x 2 blocks
        (FaceBox(0, 0, 4, 4, 0.9), (slice(0, 16), slice(0, 16))),  # tiny: the two blocks nearest its centre
        (FaceBox(310, 230, 4, 4, 0.9), (slice(224, 240), slice(304, 320))),
    ],
)
def test_face_region_is_cut_on_the_block_grid(box, expected):
    frame = np.arange(240 * 320 * 3, dtype=np.uint32).reshape(240, 320, 3).astype(np.uint8)
    region = quality.face_region(frame, box)
    assert np.array_equal(region, frame[expected])


def test_measure_face_reads_the_box_the_crop_and_the_frame_region():
    frame = jpeg(smooth_scene((480, 640)), 10)
    box = FaceBox(100, 120, 160, 160, 0.9)
    measured = quality.measure_face(frame, box, texture("noise"))
    assert measured.face_pixels == 160
    assert measured.sharpness == pytest.approx(quality.sharpness(texture("noise")))
    assert measured.blockiness == pytest.approx(quality.blockiness(frame[120:280, 104:256]))
    assert measured.blockiness > LIMITS.max_blockiness


def test_bits_per_pixel_is_file_bits_over_pixels_shown():
    assert quality.bits_per_pixel(info(10.0)) == pytest.approx(8_000_000 / (1280 * 720 * 300))


@pytest.mark.parametrize(
    "changes",
    [
        {"min_face_pixels": -1},
        {"min_sharpness": float("nan")},
        {"max_blockiness": 0.9},
        {"report_share": 1.5},
        {"report_share": 0.6, "severe_share": 0.5},
        {"min_face_frame_share": -0.1},
        {"min_duration_seconds": float("inf")},
    ],
)
def test_bad_thresholds_are_refused(changes):
    with pytest.raises(ValueError):
        quality.QualityThresholds(**changes)


@pytest.mark.parametrize(
    "per_frame, expected",
    [
        ([GOOD] * 8, []),
        ([GOOD] * 7 + [SMALL], []),  # 1 of 8: under the report share (0.25)
        ([GOOD] * 6 + [SMALL] * 2, [("faces_small", False, 0.25)]),
        ([GOOD] * 4 + [SMALL] * 4, [("faces_small", True, 0.5)]),
        ([BLURRY] * 8, [("blurry", True, 1.0)]),
        ([BLOCKY] * 5 + [GOOD] * 3, [("heavy_compression", True, 0.625)]),
        (
            [SMALL, BLURRY, BLOCKY, GOOD],
            [("faces_small", False, 0.25), ("blurry", False, 0.25), ("heavy_compression", False, 0.25)],
        ),
        # Exactly at a threshold is not past it.
        ([(LIMITS.min_face_pixels, LIMITS.min_sharpness, LIMITS.max_blockiness)] * 4, []),
    ],
)
def test_face_issues_follow_the_shares_and_thresholds(per_frame, expected):
    issues = quality.assess(faces({0: per_frame}), info(), frames_examined=len(per_frame))
    assert [(issue.code, issue.severe, issue.share) for issue in issues] == expected
    assert all(issue.track_id == 0 for issue in issues)


def test_face_issue_carries_the_median_measurement_threshold_and_counts_in_words():
    per_frame = [(60.0, 50.0, 1.0), (70.0, 50.0, 1.0), (200.0, 50.0, 1.0)]
    (issue,) = quality.assess(faces({0: per_frame}), info(), frames_examined=3)
    assert issue.code == quality.FACES_SMALL
    assert issue.value == 70.0
    assert issue.threshold == LIMITS.min_face_pixels
    assert issue.message.startswith("2 of 3 faces are smaller than 75 pixels across (median 70 px)")
    assert "higher-resolution copy" in issue.message


def test_thresholds_are_parameters():
    strict = quality.QualityThresholds(min_face_pixels=200, report_share=0.5, severe_share=0.9)
    per_frame = [GOOD] * 3 + [(250.0, 50.0, 1.0)]
    (issue,) = quality.assess(faces({0: per_frame}), info(), 4, strict)
    assert (issue.code, issue.severe, issue.share, issue.threshold) == ("faces_small", False, 0.75, 200)


@pytest.mark.parametrize(
    "duration, with_face, examined, expected",
    [
        (10.0, 32, 32, []),
        (1.5, 32, 32, [("very_short", 1.5)]),
        (2.0, 32, 32, []),
        (10.0, 15, 32, [("few_face_frames", 15 / 32)]),
        (10.0, 16, 32, []),
        (1.0, 3, 30, [("very_short", 1.0), ("few_face_frames", 0.1)]),
    ],
)
def test_video_issues(duration, with_face, examined, expected):
    issues = quality.assess(faces({0: [GOOD] * with_face}), info(duration), examined)
    assert [(issue.code, pytest.approx(issue.value)) for issue in issues] == expected
    assert all(issue.track_id is None and not issue.severe for issue in issues)


def test_no_scored_face_raises_no_face_issue():
    # The verdict already says that no face could be judged; a "few face frames" note would only repeat it.
    assert quality.assess({}, info(), 32) == []


def test_each_person_is_assessed_on_their_own_faces():
    issues = quality.assess(faces({0: [GOOD] * 4, 1: [BLURRY] * 4}), info(), 4)
    assert [(issue.code, issue.track_id, issue.severe) for issue in issues] == [("blurry", 1, True)]


def verdict(label: VerdictLabel, probability: float | None) -> Verdict:
    return Verdict(label, probability, "why", "mean", 0.5, 0.3, frames_used=8, frames_above_threshold=6)


SEVERE = QualityIssue("blurry", "8 of 8 faces are blurrier than almost all ...", 1.0, 3.8, severe=True, track_id=0)
MILD = QualityIssue("faces_small", "2 of 8 faces are smaller than ...", 80.0, 75.0, severe=False, track_id=0)


@pytest.mark.parametrize(
    "label, probability, issues, expected",
    [
        (VerdictLabel.FAKE, 0.91, [SEVERE], VerdictLabel.UNCERTAIN),
        (VerdictLabel.REAL, 0.08, [MILD, SEVERE], VerdictLabel.UNCERTAIN),
        (VerdictLabel.FAKE, 0.91, [MILD], VerdictLabel.FAKE),
        (VerdictLabel.REAL, 0.08, [], VerdictLabel.REAL),
        (VerdictLabel.UNCERTAIN, 0.45, [SEVERE], VerdictLabel.UNCERTAIN),
        (VerdictLabel.UNCERTAIN, None, [SEVERE], VerdictLabel.UNCERTAIN),
    ],
)
def test_downgrade_rule(label, probability, issues, expected):
    before = verdict(label, probability)
    after = quality.review_verdict(before, issues)
    assert after.label is expected
    assert after.fake_probability == probability
    assert (after.frames_used, after.frames_above_threshold) == (8, 6)
    if label is expected:
        assert after == before
    else:
        words = label.plain_words
        prefix = f"Inconclusive, although the combined score {probability:.2f} would read “{words}”: "
        assert after.reason == prefix + SEVERE.message


def test_a_person_too_poor_to_judge_does_not_hide_another_judged_fake():
    blurry_fake = Track(0, (), quality.review_verdict(verdict(VerdictLabel.FAKE, 0.95), [SEVERE]))
    fake = Track(1, (), verdict(VerdictLabel.FAKE, 0.8))
    real = Track(2, (), verdict(VerdictLabel.REAL, 0.1))
    video = aggregation.decide_video([blurry_fake, fake, real], "mean", 0.5, 0.5, "none")
    assert (video.label, video.fake_probability) == (VerdictLabel.FAKE, 0.8)
    assert video.reason.startswith("Person 2:")
    # Without a judged fake, the inconclusive person decides over a real one.
    video = aggregation.decide_video([real, blurry_fake], "mean", 0.5, 0.5, "none")
    assert (video.label, video.fake_probability) == (VerdictLabel.UNCERTAIN, 0.95)


def test_review_track_uses_only_that_persons_issues():
    track = Track(1, (), verdict(VerdictLabel.FAKE, 0.9))
    assert quality.review_track(track, [SEVERE]).verdict.label is VerdictLabel.FAKE
    other = QualityIssue("blurry", "m", 1.0, 3.8, severe=True, track_id=1)
    assert quality.review_track(track, [SEVERE, other]).verdict.label is VerdictLabel.UNCERTAIN


def test_notes_name_the_person_and_skip_what_the_reason_says():
    other = QualityIssue("faces_small", "Faces are small.", 60.0, 75.0, track_id=1, share=0.3)
    short = QualityIssue("very_short", "The clip is short.", 1.0, 2.0)
    reviewed = quality.review_verdict(verdict(VerdictLabel.FAKE, 0.9), [SEVERE])
    assert quality.notes([short, SEVERE, other], reviewed, people=2) == [
        "The clip is short.",
        "Person 2: Faces are small.",
    ]
    assert quality.notes([other], reviewed, people=1) == ["Faces are small."]


def test_issues_are_exported_in_the_json():
    result = make_result({0: [0.9, 0.8, 0.7]})
    issue = QualityIssue("blurry", "3 of 3 faces are blurry.", 1.23456, 3.8, severe=True, track_id=0, share=1.0)
    data = export.result_to_dict(dataclasses.replace(result, quality_issues=(issue,)))
    assert data["quality_issues"] == [
        {
            "code": "blurry",
            "message": "3 of 3 faces are blurry.",
            "value": 1.2346,
            "threshold": 3.8,
            "severe": True,
            "track": 0,
            "share": 1.0,
        }
    ]
    assert export.result_to_dict(result)["quality_issues"] == []


@pytest.fixture(scope="module")
def scorer(tiny_models_folder):
    return load_scorer("tiny", tiny_models_folder)


@requires_shared
def test_pipeline_small_faces_make_the_verdict_inconclusive_and_say_why(tmp_path, scorer):
    face = cv2.resize(datasets.read_image(FACE, 160), (60, 60), interpolation=cv2.INTER_AREA)
    path = make_video(tmp_path / "small.mp4", frames=60, size=(320, 240), draw=pasted_faces([face], step=1))
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=8))
    assert len(result.tracks) == 1 and len(result.tracks[0].scores) == 8
    codes = {issue.code: issue for issue in result.quality_issues}
    assert codes["faces_small"].severe and codes["faces_small"].share == 1.0
    assert codes["faces_small"].value < LIMITS.min_face_pixels
    assert result.verdict.label is VerdictLabel.UNCERTAIN
    assert result.verdict.fake_probability is not None
    assert result.verdict.reason.startswith("Inconclusive, although the combined score")
    assert "8 of 8 faces are smaller than 75 pixels" in result.verdict.reason
    assert result.tracks[0].verdict == result.verdict
    assert export.result_to_dict(result)["quality_issues"][0]["code"] in codes


@requires_shared
def test_pipeline_blurred_video_is_inconclusive_and_a_sharp_one_is_not(tmp_path, scorer):
    face = datasets.read_image(FACE, 160)
    draw = pasted_faces([face], step=1)

    def blurred(frame_number: int, width: int, height: int) -> np.ndarray:
        return cv2.GaussianBlur(draw(frame_number, width, height), (0, 0), 4.0)

    def analyze(name: str, drawing) -> object:
        path = make_video(tmp_path / name, frames=90, size=(480, 320), draw=drawing)
        return pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=8))

    sharp, soft = analyze("sharp.mp4", draw), analyze("soft.mp4", blurred)
    assert [issue.code for issue in sharp.quality_issues] == []
    assert "Inconclusive, although" not in sharp.verdict.reason
    assert [issue.code for issue in soft.quality_issues] == ["blurry"]
    assert soft.quality_issues[0].severe
    assert soft.verdict.label is VerdictLabel.UNCERTAIN
    assert "blurrier than almost all the faces the model was trained on" in soft.verdict.reason
