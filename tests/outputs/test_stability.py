"""Tests of detector/stability.py: which frames the copy is made of, its size, and the verdict compared.

The tiny untrained model stands in for a trained one (plumbing): whether a verdict holds is steered through the
thresholds, or by standing in for the copy's analysis.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, make_result, requires_shared
from PIL import Image
from video_factory import frame_number, make_video, pasted_faces

from detector.analysis import pipeline, video
from detector.analysis.scoring import load_scorer
from detector.config import AnalysisConfig
from detector.outputs import stability
from detector.training import datasets
from detector.types import VerdictLabel, VideoInfo

FACES = SHARED / "data" / "dfdc-faces" / "faces"


@pytest.fixture(scope="module")
def scorer(tiny_models_folder):
    return load_scorer("tiny", tiny_models_folder)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of its own, to check that the copy is deleted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def info_of(width: int, height: int, frames: int = 300, container: str = "mp4") -> VideoInfo:
    return VideoInfo("x", 1, width, height, 30.0, frames, frames / 30.0, container=container)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), (960, 540)),  # half: 540p
        ((1280, 720), (640, 360)),  # 360p
        ((3840, 2160), (1920, 1080)),
        ((720, 1080), (360, 540)),  # portrait: the shorter side is the width
        ((640, 480), (480, 360)),
        ((480, 320), (480, 320)),  # already under 360p: never enlarged
    ],
)
def test_copy_size_is_360p_or_half_whichever_is_larger(size, expected):
    assert stability.copy_size(info_of(*size)) == expected


def test_a_short_clip_is_re_encoded_whole():
    indices, sample_count = stability.frames_to_encode(info_of(320, 240, frames=100), [10, 50, 90], 16)
    assert indices == list(range(100))
    assert sample_count == 16


def test_a_long_clip_gets_a_run_of_frames_around_each_chosen_sample():
    info = info_of(320, 240, frames=300)
    sampled = video.sample_indices(info, AnalysisConfig(frames_to_sample=32))
    indices, sample_count = stability.frames_to_encode(info, sampled, 16)
    assert sample_count == 16
    assert len(indices) == 16 * stability.RUN_LENGTH
    assert indices[:8] == list(range(10, 18))  # around sampled frame 14
    assert indices[-8:] == list(range(291, 299))  # around 295


def test_fewer_sampled_frames_than_asked_each_get_a_run():
    info = info_of(320, 240, frames=3000)
    sampled = [100, 900, 2999]
    indices, sample_count = stability.frames_to_encode(info, sampled, 16)
    assert sample_count == 3
    # The last run is kept inside the clip, so it ends on the last frame.
    assert indices == [*range(96, 104), *range(896, 904), *range(2992, 3000)]


def test_the_re_analysis_samples_exactly_the_chosen_frames_of_the_copy(tmp_path):
    path = make_video(tmp_path / "numbered.mp4", frames=300, size=(160, 96), fps=30)
    info = video.probe(path)
    sampled = video.sample_indices(info, AnalysisConfig(frames_to_sample=32))
    indices, sample_count = stability.frames_to_encode(info, sampled, 16)
    copy = tmp_path / "copy.mp4"
    stability._write_video_copy(path, info, indices, stability.copy_size(info), copy)

    copy_info = video.probe(copy)
    copy_config = AnalysisConfig(frames_to_sample=sample_count)
    frames = video.iter_frames(copy, copy_info, video.sample_indices(copy_info, copy_config), copy_config)
    assert copy_info.frame_count == 128
    assert [frame_number(frame.image) for frame in frames] == sampled[1::2]


@requires_shared
def test_check_stability_compares_the_verdicts_and_deletes_the_copy(tmp_path, scorer, private_tmp):
    face = datasets.read_image(FACES / "abplofmgwg.jpg", 160)
    path = make_video(tmp_path / "face.mp4", frames=30, size=(640, 480), draw=pasted_faces([face]))
    # A threshold of 0: every score reads FAKE, so the verdict holds whatever the untrained model says.
    config = AnalysisConfig(frames_to_sample=8, fake_threshold=0.0, uncertain_low=0.0)
    result = pipeline.analyze(path, scorer, config)
    stages = []

    checked = stability.check_stability(
        path, result, scorer, config, progress=lambda stage, fraction, message: stages.append(stage)
    )

    assert checked.original_label is VerdictLabel.FAKE
    assert checked.original_probability == result.verdict.fake_probability
    assert checked.reencoded_label is VerdictLabel.FAKE
    assert checked.reencoded_probability is not None
    assert checked.holds
    assert checked.shift == pytest.approx(checked.reencoded_probability - checked.original_probability)
    assert (checked.copy_width, checked.copy_height) == (480, 360)
    assert checked.frames_checked == 16  # the whole 30-frame clip, sampled 16 times
    assert checked.copy_description == "360p, low quality"
    assert checked.sentence == (
        f"The verdict holds after re-encoding at 360p, low quality ({checked.original_probability:.2f} -> "
        f"{checked.reencoded_probability:.2f})."
    )
    assert {"reading", "faces", "scoring"} <= set(stages)
    assert list(private_tmp.iterdir()) == []
    data = checked.as_dict()
    assert data["holds"] is True and data["original_verdict"] == "FAKE" and data["copy_size"] == [480, 360]


def test_a_verdict_that_changes_says_so_and_why(tmp_path, scorer, monkeypatch, private_tmp):
    path = make_video(tmp_path / "clip.mp4", frames=12, size=(320, 240))
    original = make_result({0: [0.9, 0.8, 0.95, 0.9]})
    copy = make_result({0: [0.2, 0.3, 0.25, 0.1]})
    copy = dataclasses.replace(copy, info=original.info)
    original = dataclasses.replace(original, info=video.probe(path))
    monkeypatch.setattr(pipeline, "analyze", lambda *args, **kwargs: copy)

    checked = stability.check_stability(path, original, scorer, AnalysisConfig())

    assert not checked.holds
    assert (checked.original_label, checked.reencoded_label) == (VerdictLabel.FAKE, VerdictLabel.REAL)
    assert checked.shift == pytest.approx(0.2125 - 0.8875)
    assert checked.sentence == (
        "The verdict changes after re-encoding at 240p, low quality: “Likely manipulated” (0.89) becomes “No sign "
        "of manipulation found” (0.21). Treat it with caution: a copy shared online may be judged differently."
    )
    assert list(private_tmp.iterdir()) == []


def test_a_copy_that_cannot_be_judged_does_not_hold(tmp_path, scorer, monkeypatch):
    path = make_video(tmp_path / "clip.mp4", frames=12, size=(320, 240))
    original = dataclasses.replace(make_result({0: [0.9, 0.8, 0.95, 0.9]}), info=video.probe(path))
    copy = make_result({0: [0.9]})  # one frame: fewer than make_result's two needed to judge
    monkeypatch.setattr(pipeline, "analyze", lambda *args, **kwargs: copy)

    checked = stability.check_stability(path, original, scorer, AnalysisConfig())

    assert not checked.holds and checked.shift is None and checked.reencoded_probability is None
    assert checked.sentence.startswith("After re-encoding at 240p, low quality, the checker could not judge the copy:")


def test_nothing_to_check_without_a_verdict(tmp_path, scorer):
    result = make_result({})
    assert not stability.can_check(result)
    with pytest.raises(ValueError, match="no verdict to check"):
        stability.check_stability(tmp_path / "x.mp4", result, scorer)


@requires_shared
def test_a_photo_is_re_compressed_as_a_small_jpeg(tmp_path, scorer, monkeypatch):
    image = np.full((960, 1280, 3), 90, np.uint8)
    image[300:620, 480:800] = datasets.read_image(FACES / "abplofmgwg.jpg", 320)
    photo = tmp_path / "photo.png"
    Image.fromarray(image).save(photo)
    config = AnalysisConfig(fake_threshold=0.0, uncertain_low=0.0)
    result = pipeline.analyze(photo, scorer, config)
    copies = []
    analyze = pipeline.analyze

    def looking_at_the_copy(path, *args, **kwargs):
        with Image.open(path) as copy:
            copies.append((copy.format, copy.size))
        return analyze(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "analyze", looking_at_the_copy)
    checked = stability.check_stability(photo, result, scorer, config)

    assert copies == [("JPEG", (640, 480))]  # half of 960 is larger than 360
    assert (checked.copy_width, checked.copy_height) == (640, 480)
    assert checked.frames_checked == 1
    assert checked.reencoded_probability is not None  # one frame with a face is enough for a photo
    # Low-quality JPEG blocks show on this smooth, enlarged face: the copy may read too compressed to judge.
    verb = "holds" if checked.holds else "changes"
    assert checked.sentence.startswith(f"The verdict {verb} after re-compressing as a 640 × 480 low-quality JPEG")
