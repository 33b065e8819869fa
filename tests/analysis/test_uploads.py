"""Tests for detector/uploads.py: temporary copies of uploads are always deleted."""

from __future__ import annotations

import pytest

from detector.analysis import uploads
from detector.config import AnalysisConfig


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("clip.MP4", ".mp4"),
        ("a.b.webm", ".webm"),
        ("clip.mkv", ".mkv"),
        ("photo.JPG", ".jpg"),
        ("photo.webp", ".webp"),
        ("notes.txt", ".video"),
        ("noext", ".video"),
    ],
)
def test_upload_suffix(name: str, suffix: str) -> None:
    assert uploads.upload_suffix(name) == suffix


def test_saved_upload_holds_the_bytes_then_deletes_them() -> None:
    with uploads.saved_upload(b"video bytes", "clip.mov") as path:
        assert path.suffix == ".mov"
        assert path.read_bytes() == b"video bytes"
    assert not path.exists()


def test_saved_upload_deletes_on_error() -> None:
    with pytest.raises(RuntimeError, match="analysis failed"), uploads.saved_upload(b"x", "clip.mp4") as path:
        raise RuntimeError("analysis failed")
    assert not path.exists()


def test_saved_upload_survives_the_file_being_gone() -> None:
    with uploads.saved_upload(b"x", "clip.mp4") as path:
        path.unlink()
    assert not path.exists()


def test_analysis_key_changes_with_content_models_and_settings() -> None:
    config = AnalysisConfig()
    digest = uploads.upload_digest(b"abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    key = uploads.analysis_key(digest, ["tiny"], config)
    assert key == uploads.analysis_key(digest, ("tiny",), AnalysisConfig())
    assert hash(key) == hash(uploads.analysis_key(digest, ("tiny",), AnalysisConfig()))
    assert key != uploads.analysis_key(uploads.upload_digest(b"abd"), ["tiny"], config)
    assert key != uploads.analysis_key(digest, ["tiny", "other"], config)
    assert key != uploads.analysis_key(digest, ["tiny"], config.replace(frames_to_sample=8))
