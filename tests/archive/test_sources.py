"""Tests for detector/archive/sources.py: which files a scan covers, each once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from detector.archive import sources


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folders_are_searched_recursively_for_accepted_types_and_lists_are_read(tmp_path: Path) -> None:
    clip = _touch(tmp_path / "in" / "b.mp4")
    photo = _touch(tmp_path / "in" / "deep" / "a.JPG")
    _touch(tmp_path / "in" / "notes.txt")
    named = _touch(tmp_path / "odd.bin")
    listed = _touch(tmp_path / "lists" / "c.webm")
    (tmp_path / "lists" / "files.txt").write_text(f"# the archive\n\nc.webm\n{clip}\n{tmp_path / 'gone.mp4'}\n")
    found = sources.expand_sources([str(tmp_path / "in"), str(named), f"@{tmp_path / 'lists' / 'files.txt'}"])
    # A folder's files sorted, a named file whatever its type, a list's paths (relative to the list), each once;
    # a missing path is kept, for the scan to record.
    assert found == [clip, photo, named, listed, tmp_path / "gone.mp4"]


def test_a_missing_list_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="list file"):
        sources.expand_sources([f"@{tmp_path / 'nope.txt'}"])


def test_file_sha256_reads_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 100
    monkeypatch.setattr(sources, "HASH_CHUNK_BYTES", 1000)
    assert sources.file_sha256(_touch(tmp_path / "v.mp4", data)) == hashlib.sha256(data).hexdigest()
