"""Tests of the page, streamlit_app.py, through Streamlit's AppTest (no browser): one test per behaviour.

The tiny untrained model stands in for a trained one: these tests check what the page shows, not how good the
verdict is.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PROJECT, SHARED
from streamlit.testing.v1 import AppTest
from video_factory import make_video

from detector import pipeline

APP = str(PROJECT / "streamlit_app.py")
FACE_IMAGE = SHARED / "data" / "dfdc-faces" / "faces" / "abplofmgwg.jpg"
HEADLINE = re.compile(
    r"\*\*(Likely manipulated|No sign of manipulation found|Can't tell) — fake probability \d\.\d\d\*\*"
)

requires_face_image = pytest.mark.skipif(not FACE_IMAGE.is_file(), reason=f"face crop {FACE_IMAGE} not found")


def face_video(path: Path) -> Path:
    """An H.264 mp4 of a real face crop (224 px) on a grey background, moving a little from frame to frame."""
    face = cv2.cvtColor(cv2.imread(str(FACE_IMAGE)), cv2.COLOR_BGR2RGB)

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        image = np.full((height, width, 3), 90, np.uint8)
        left = 100 + 2 * frame_number
        image[60:284, left : left + 224] = face
        return image

    return make_video(path, frames=20, size=(480, 360), draw=draw)


def colour_video(path: Path) -> Path:
    """Frames of slowly changing flat colour, in the video_factory's default codec for the suffix's container."""

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        return np.full((height, width, 3), (40 + 5 * frame_number, 120, 200), np.uint8)

    codec = "mpeg4" if path.suffix == ".avi" else "libx264"
    return make_video(path, frames=20, size=(320, 240), draw=draw, codec=codec)


def alerts(at: AppTest) -> list[str]:
    return [element.value for kind in (at.error, at.warning, at.success, at.info) for element in kind]


@pytest.fixture
def app(tiny_models_folder: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DETECTOR_MODELS", str(tiny_models_folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of its own for the page's temporary copies of uploads, to check they are deleted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_first_load_shows_title_explanation_settings_and_uploader(app: AppTest) -> None:
    assert not app.exception
    assert app.title[0].value == "Deepfake video checker"
    assert "judges faces only" in app.markdown[0].value and "evidence, not proof" in app.markdown[0].value
    assert app.file_uploader[0].label == "Video to check"
    # Streamlit adds aliases (.mpeg4 for .mp4) to the accepted types.
    assert {".mp4", ".mov", ".m4v", ".avi", ".webm", ".mkv"} <= set(app.file_uploader[0].allowed_type)
    assert app.sidebar.multiselect[0].value == ["tiny"]
    assert app.sidebar.slider[0].value == 32
    assert app.sidebar.selectbox[0].value == "confident"
    assert not alerts(app)


@requires_face_image
def test_video_with_a_face_gives_verdict_chart_faces_and_downloads(
    app: AppTest, tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    analyze = pipeline.analyze

    def counting_analyze(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return analyze(*args, **kwargs)

    monkeypatch.setattr(pipeline, "analyze", counting_analyze)
    data = face_video(tmp_path / "face.mp4").read_bytes()
    app.file_uploader[0].set_value(("interview.mp4", data, "video/mp4"))
    app.run()

    assert not app.exception
    verdicts = [text for text in alerts(app) if HEADLINE.match(text)]
    assert len(verdicts) == 1, alerts(app)
    assert "frames scored" in verdicts[0]
    assert any("0 (looks real) to 1 (looks manipulated)" in caption.value for caption in app.caption)
    assert len(app.get("plotly_chart")) == 1
    assert any("Gaps in a line are frames" in caption.value for caption in app.caption)
    assert 1 <= len(app.image) <= 24
    assert len(app.get("video")) == 1
    assert any(subheader.value == "About the model" for subheader in app.subheader)
    assert any("untrained: not measured" in markdown.value for markdown in app.markdown)
    assert [button.label for button in app.get("download_button")] == ["Report (JSON)", "Scores per frame (CSV)"]
    assert list(private_tmp.iterdir()) == [], "the temporary copy of the upload was not deleted"

    # A rerun (a download, a click elsewhere) shows the remembered result; new settings analyse again.
    app.run()
    assert len(calls) == 1
    assert len([text for text in alerts(app) if HEADLINE.match(text)]) == 1
    app.sidebar.slider[0].set_value(8).run()
    assert len(calls) == 2
    assert not app.exception


def test_text_file_named_mp4_shows_a_clear_error(app: AppTest, private_tmp: Path) -> None:
    app.file_uploader[0].set_value(("notes.mp4", b"this is not a video, just some text\n" * 20, "video/mp4"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert "not a video the checker can read" in app.error[0].value
    assert "plays in a video player" in app.error[0].value
    assert not app.get("plotly_chart")
    assert list(private_tmp.iterdir()) == []


def test_video_without_a_face_cannot_tell_and_says_why(app: AppTest, tmp_path: Path) -> None:
    data = colour_video(tmp_path / "colours.avi").read_bytes()
    app.file_uploader[0].set_value(("colours.avi", data, "video/x-msvideo"))
    app.run()
    assert not app.exception
    assert len(app.warning) >= 1
    assert app.warning[0].value.startswith("**Can't tell**")
    assert "No face was found in any of the" in app.warning[0].value
    assert any("no probability is given" in caption.value for caption in app.caption)
    assert not app.get("plotly_chart")
    # MPEG-4 Part 2 in AVI does not play in browsers: a note instead of the player.
    assert not app.get("video")
    assert any("MPEG-4 Part 2 in AVI" in text and "cannot play" in text for text in alerts(app))
    assert [button.label for button in app.get("download_button")] == ["Report (JSON)", "Scores per frame (CSV)"]


def test_without_models_the_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("DETECTOR_MODELS", str(empty))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert "No trained model is installed" in at.error[0].value
    assert "python -m detector train" in at.error[0].value
    assert not at.file_uploader
