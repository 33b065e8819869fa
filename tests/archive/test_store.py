"""Tests for detector/archive/rows.py and store.py: rows for every file, written so a reader never sees half."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import make_result

from detector.archive import rows
from detector.archive.store import ResultsStore
from detector.config import AnalysisConfig
from detector.models import model_card


def test_a_row_has_a_result_or_a_reason_never_both() -> None:
    result = make_result({0: [0.9, 0.8], 1: [0.1, 0.2]})
    row = rows.file_row("a.mp4", "ab" * 32, 10, ["tiny"], "s", result=result)
    assert (row["verdict"], row["error"]) == (result.verdict.label.value, None)
    assert row["people"] == 2 and row["faces_scored"] == 4
    failed = rows.file_row("b.mp4", None, None, ["tiny"], "s", error="no such file")
    assert (failed["verdict"], failed["fake_probability"], failed["error"]) == (None, None, "no such file")
    with pytest.raises(ValueError):
        rows.file_row("c.mp4", None, None, ["tiny"], "s")
    with pytest.raises(ValueError):
        rows.file_row("c.mp4", None, None, ["tiny"], "s", result=result, error="x")


def test_settings_change_with_the_models_thresholds_and_settings(tiny_models_folder: Path) -> None:
    card = model_card.read_card("tiny", tiny_models_folder)
    config = AnalysisConfig()
    base = rows.settings_fingerprint([card], card.thresholds, config)
    assert base == rows.settings_fingerprint([card], card.thresholds, AnalysisConfig())
    assert base != rows.settings_fingerprint([card], card.thresholds, config.replace(frames_to_sample=8))
    stricter = dataclasses.replace(card.thresholds, fake=0.9)
    assert base != rows.settings_fingerprint([card], stricter, config)
    retrained = dataclasses.replace(card, sha256="0" * 64)
    assert base != rows.settings_fingerprint([retrained], card.thresholds, config)


def test_the_store_writes_both_tables_and_reads_back_what_is_done(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results")
    result = make_result({0: [0.9, 0.8]})
    sha = "cd" * 32
    analysed = rows.Scanned(
        rows.file_row("a.mp4", sha, 10, ["tiny"], "s1", result=result), rows.face_rows("a.mp4", sha, "s1", result)
    )
    failed = rows.Scanned(rows.file_row("b.mp4", "ef" * 32, 3, ["tiny"], "s1", error="not a video"))
    store.append([analysed, failed])
    store.append([rows.for_duplicate(analysed, "copy.mp4")])

    table = pq.read_table(tmp_path / "results")
    assert sorted(table.column("file").to_pylist()) == ["a.mp4", "b.mp4", "copy.mp4"]
    faces = pq.read_table(tmp_path / "results" / "_faces")
    assert faces.num_rows == 4 and set(faces.column("file").to_pylist()) == {"a.mp4", "copy.mp4"}
    assert not [path for path in (tmp_path / "results").iterdir() if path.name.startswith(".")]

    assert set(store.done("s1")) == {sha, "ef" * 32}
    assert set(store.done("s1", retry_failed=True)) == {sha}
    assert store.done("other settings") == {}
    assert ("a.mp4", sha) in store.rows_of("s1")
    assert len(store.faces_of(sha, "s1")) == 4


def test_a_results_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("x")
    with pytest.raises(NotADirectoryError):
        ResultsStore(tmp_path / "results")
