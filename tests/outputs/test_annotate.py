"""Tests of detector/annotate.py: the annotated video read back with PyAV, its frames, size, codec and colours.

The tiny untrained model stands in for a trained one (plumbing): which colour a label gets is set through the
thresholds, not through what the model says.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import SHARED, requires_shared
from PIL import Image
from video_factory import draw_numbered, frame_number, make_video

from detector.analysis import pipeline
from detector.analysis.scoring import load_scorer
from detector.config import AnalysisConfig
from detector.outputs import annotate
from detector.training import datasets
from detector.types import FaceBox, FaceScore, VerdictLabel, VideoInfo

FACES = SHARED / "data" / "dfdc-faces" / "faces"
RED, AMBER, GREEN = (
    annotate.BAND_COLOURS[label] for label in (VerdictLabel.FAKE, VerdictLabel.UNCERTAIN, VerdictLabel.REAL)
)
FACE_TOP, FACE_LEFT, FACE_SIDE = 170, 150, 150


@pytest.fixture(scope="module")
def scorer(tiny_models_folder):
    return load_scorer("tiny", tiny_models_folder)


def numbered_face(frame: int, width: int, height: int) -> np.ndarray:
    """The frame number in blocks across the top quarter (video_factory), a real face pasted below it."""
    image = draw_numbered(frame, width, height)
    image[height // 4 :] = 90
    face = datasets.read_image(FACES / "abplofmgwg.jpg", FACE_SIDE)
    left = FACE_LEFT + frame
    image[FACE_TOP : FACE_TOP + FACE_SIDE, left : left + FACE_SIDE] = face
    return image


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory, scorer):
    """A 30-frame 480 x 360 clip of a face below the frame number, and its analysis (6 sampled frames)."""
    path = make_video(tmp_path_factory.mktemp("clip") / "face.mp4", frames=30, size=(480, 360), draw=numbered_face)
    return path, pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=6))


def read_back(path: Path) -> tuple[str, float, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, fps = stream.codec_context.name, float(stream.average_rate)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return codec, fps, frames


def median_colour(region: np.ndarray) -> np.ndarray:
    return np.median(region.reshape(-1, 3), axis=0)


def label_region(box: FaceBox, scale: float) -> tuple[slice, slice]:
    """Pixels inside the label drawn just above the box: its left part, clear of the box's own line."""
    x0, y0 = round(box.x * scale), round(box.y * scale)
    return slice(y0 - 16, y0 - 4), slice(x0 + 2, x0 + 60)


@requires_shared
def test_every_frame_mode_keeps_every_frame_size_rate_and_codec(face_clip, tmp_path):
    path, result = face_clip
    out = annotate.write_annotated_video(path, result, tmp_path / "annotated.mp4", 0.5, 0.3, max_side=240)

    codec, fps, frames = read_back(out)
    assert annotate.annotation_mode(result.info) == annotate.EVERY_FRAME
    assert codec == "h264"
    assert fps == pytest.approx(25.0)
    assert len(frames) == 30
    assert frames[0].shape == (180, 240, 3)  # 480 x 360 shrunk to a longer side of 240


@requires_shared
@pytest.mark.parametrize(
    ("fake_threshold", "uncertain_low", "colour"),
    [(0.0, 0.0, RED), (1.0, 0.0, AMBER), (1.0, 1.0, GREEN)],
    ids=["at or above the threshold: red", "uncertain band: amber", "below: green"],
)
def test_labels_take_the_colour_of_their_band(face_clip, tmp_path, fake_threshold, uncertain_low, colour):
    path, result = face_clip
    out = annotate.write_annotated_video(path, result, tmp_path / "annotated.mp4", fake_threshold, uncertain_low)

    _, _, frames = read_back(out)
    assert frames[0].shape == (360, 480, 3)  # already smaller than 720: not resized
    for record in result.frames:
        (face,) = record.faces
        rows, columns = label_region(face.box, 1.0)
        assert np.abs(median_colour(frames[record.index][rows, columns]) - colour).max() < 40, record.index
        # The frame itself is the frame of that index, annotated (not a neighbour's).
        assert frame_number(frames[record.index]) == record.index


@requires_shared
def test_frames_between_samples_show_the_nearest_sampled_frames_boxes(face_clip, tmp_path):
    path, result = face_clip
    out = annotate.write_annotated_video(path, result, tmp_path / "annotated.mp4", 0.0, 0.0)

    _, _, frames = read_back(out)
    sampled = [record.index for record in result.frames]
    assert sampled[0] > 0  # frame 0 is not sampled: it shows the first sampled frame's box
    (first,) = result.frames[0].faces
    rows, columns = label_region(first.box, 1.0)
    assert np.abs(median_colour(frames[0][rows, columns]) - RED).max() < 40
    # Without labels, the same place is not red.
    plain = make_video(tmp_path / "plain.mp4", frames=1, size=(480, 360), draw=numbered_face)
    with av.open(str(plain)) as container:
        background = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(median_colour(background[rows, columns]) - RED).max() > 80


@requires_shared
def test_boxes_follow_frames_the_analysis_decoded_smaller(tmp_path, scorer):
    """The analysis decoded at most 240 px; the annotated copy is 480 px: boxes are scaled by 2."""
    path = make_video(tmp_path / "face.mp4", frames=12, size=(480, 360), draw=numbered_face)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=3, max_frame_side=240, min_face_size=32))
    out = annotate.write_annotated_video(path, result, tmp_path / "a.mp4", 0.0, 0.0, 480, analysis_max_side=240)

    _, _, frames = read_back(out)
    record = result.frames[1]
    (face,) = record.faces
    assert face.box.x < 240 / 2  # in the 240 px frame's pixels
    rows, columns = label_region(face.box, 2.0)
    assert np.abs(median_colour(frames[record.index][rows, columns]) - RED).max() < 40


@requires_shared
def test_long_clips_become_a_slideshow_of_the_sampled_frames(face_clip, tmp_path, monkeypatch):
    path, result = face_clip
    monkeypatch.setattr(annotate, "MAX_EVERY_FRAME_SECONDS", 0.5)
    out = annotate.write_annotated_video(path, result, tmp_path / "slides.mp4", 0.5, 0.3)

    codec, fps, frames = read_back(out)
    assert annotate.annotation_mode(result.info) == annotate.SAMPLED_FRAMES
    assert codec == "h264"
    assert fps == pytest.approx(annotate.SLIDESHOW_FPS)
    assert [frame_number(frame) for frame in frames] == [record.index for record in result.frames]
    assert "6 sampled frames, one a second" in annotate.describe(result)


@requires_shared
def test_a_photo_is_annotated_as_a_picture(tmp_path, scorer):
    image = np.full((360, 480, 3), 90, np.uint8)
    image[100:260, 160:320] = datasets.read_image(FACES / "abplofmgwg.jpg", 160)
    photo = tmp_path / "photo.png"
    Image.fromarray(image).save(photo)
    result = pipeline.analyze(photo, scorer)

    annotated = annotate.annotated_photo(photo, result, 0.0, 0.0)
    out = annotate.write_annotated_photo(photo, result, tmp_path / "annotated.png", 0.0, 0.0)

    assert annotated.shape == (360, 480, 3)
    (face,) = result.frames[0].faces
    rows, columns = label_region(face.box, 1.0)
    assert np.array_equal(median_colour(annotated[rows, columns]), RED)  # a PNG: exact colours
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), annotated)
    assert annotate.describe(result).startswith("The photo, with each face")


@pytest.mark.parametrize(
    ("seconds", "size", "fps", "container", "mode"),
    [
        (10.0, (1920, 1080), 30.0, "mp4", annotate.EVERY_FRAME),
        (59.0, (1280, 720), 30.0, "mp4", annotate.EVERY_FRAME),
        (61.0, (640, 360), 30.0, "mp4", annotate.SAMPLED_FRAMES),  # longer than 60 s
        (40.0, (1920, 1080), 30.0, "mp4", annotate.SAMPLED_FRAMES),  # 1080p: more than 30 s of decoding
        (20.0, (3840, 2160), 30.0, "mp4", annotate.SAMPLED_FRAMES),  # 4K: four times the pixels
        (0.0, (4000, 3000), 1.0, "jpeg", annotate.SAMPLED_FRAMES),  # a photo
    ],
)
def test_annotation_mode_follows_length_and_size(seconds, size, fps, container, mode):
    frames = max(1, round(seconds * fps))
    info = VideoInfo("x", 1, size[0], size[1], fps, frames, seconds, container=container)
    assert annotate.annotation_mode(info) == mode


def test_face_label_names_the_person_score_and_band():
    score = FaceScore(0, 0.0, FaceBox(10, 10, 50, 50, 0.9), 1, 0.873)
    assert annotate.face_label(score, 0.5, 0.3) == "Person 2: 0.87 fake"
    assert annotate.face_label(score, 0.9, 0.3) == "Person 2: 0.87 uncertain"
    assert annotate.face_label(score, 0.9, 0.9) == "Person 2: 0.87 real"


def test_labels_near_the_edges_stay_inside_the_frame():
    image = np.zeros((120, 160, 3), np.uint8)
    faces = [
        FaceScore(0, 0.0, FaceBox(-20, -10, 60, 60, 0.9), 0, 0.9),
        FaceScore(0, 0.0, FaceBox(130, 90, 60, 60, 0.9), 1, 0.1),
    ]
    annotate.draw_faces(image, faces, 1.0, 0.5, 0.3)
    # The first label is pushed inside the top-left corner, the second inside the right edge.
    assert np.abs(median_colour(image[2:10, 2:40]) - RED).max() == 0
    assert (np.abs(image.reshape(-1, 3).astype(int) - GREEN).max(axis=1) == 0).sum() > 100


def test_output_paths_one_per_input_named_after_out_and_input():
    assert annotate.output_paths("out/a.mp4", ["clip.mp4"]) == [Path("out/a.mp4")]
    assert annotate.output_paths("out/a.mp4", ["x/clip.mp4", "y/clip.mov", "z/b.mp4"]) == [
        Path("out/a-clip.mp4"),
        Path("out/a-clip-2.mp4"),
        Path("out/a-b.mp4"),
    ]


def test_write_annotated_video_refuses_a_result_without_frames(tmp_path):
    from conftest import make_result

    result = make_result({0: [0.9, 0.8]})
    empty = dataclasses.replace(result, frames=(), tracks=())
    with pytest.raises(ValueError, match="no sampled frames"):
        annotate.write_annotated_video(tmp_path / "x.mp4", empty, tmp_path / "out.mp4", 0.5, 0.3)
    assert not (tmp_path / "out.mp4").exists()
