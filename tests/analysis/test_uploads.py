"""Tests for detector/analysis/uploads.py: temporary copies of uploads are always deleted; several uploads are
kept within the count and size the page takes at once."""

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


@pytest.mark.parametrize(
    ("sizes", "kept", "words"),
    [
        ([10, 20, 30], 3, None),
        ([10] * 12, 10, "12 files were dropped; the checker takes up to 10 at once"),
        ([400, 400, 300], 2, "only the first 2 are checked. Drop the other 1 after these"),
        ([2000], 0, "The first file alone is larger"),
        ([], 0, None),
    ],
)
def test_several_uploads_are_kept_within_the_count_and_the_total_size(sizes, kept, words):
    count, messages = uploads.within_limits(sizes, max_files=10, max_total_bytes=1000)
    assert count == kept
    if words is None:
        assert messages == []
    else:
        assert len(messages) == 1 and words in messages[0]


def test_upload_limits_must_be_positive():
    with pytest.raises(ValueError):
        uploads.within_limits([1], max_files=0, max_total_bytes=10)
