"""Tests for detector/archive/engine.py and the scan-archive command: a real local Ray, two workers on two cores.

Nothing here sleeps to wait for Ray: every check waits on the scan's own results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from video_factory import make_video

from detector.analysis import pipeline
from detector.archive import engine, rows, sources
from detector.archive.store import ResultsStore
from detector.config import AnalysisConfig
from detector.models import model_card

ray = pytest.importorskip("ray")
CONFIG = AnalysisConfig(frames_to_sample=4)


def still(shade: int):
    """Flat frames of one shade a clip, so that no two clips have the same bytes."""

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        return np.full((height, width, 3), (60 + 3 * frame_number, shade, 120), np.uint8)

    return draw


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small clips (one a byte-for-byte copy of another, in a sub-folder), a broken file, a text file."""
    folder = tmp_path_factory.mktemp("archive")
    for shade, name in enumerate(("a.mp4", "b.mp4", "crash_once.mp4", "crash_always.mp4")):
        make_video(folder / name, frames=8, size=(96, 64), draw=still(40 + 30 * shade))
    (folder / "sub").mkdir()
    (folder / "sub" / "a_again.mp4").write_bytes((folder / "a.mp4").read_bytes())
    (folder / "broken.mp4").write_bytes(b"this is not a video\n" * 10)
    (folder / "notes.txt").write_text("not part of the archive")
    return folder


@pytest.fixture
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _settings(models_folder: Path) -> str:
    card = model_card.read_card("tiny", models_folder)
    return rows.settings_fingerprint([card], card.thresholds, CONFIG)


def _scan(paths: list[Path], results: Path, models_folder: Path, **options: object) -> engine.Summary:
    settings = _settings(models_folder)
    store = ResultsStore(results)
    todo = engine.plan(paths, store, settings, ["tiny"])
    return engine.run(todo, store, CONFIG, settings, ["tiny"], models_folder=str(models_folder), **options)


def _without_crashers(folder: Path) -> list[Path]:
    return [path for path in sources.expand_sources([str(folder)]) if "crash" not in path.name]


def test_two_workers_scan_good_and_broken_files_and_a_rerun_skips_them(
    archive: Path, tiny_models_folder: Path, tmp_path: Path, local_ray: None
) -> None:
    paths = [*_without_crashers(archive), archive / "missing.mp4"]
    summary = _scan(paths, tmp_path / "results", tiny_models_folder, workers=2)
    assert summary.workers == 2
    table = pq.read_table(tmp_path / "results").to_pylist()
    by_name = {Path(row["file"]).name: row for row in table}
    assert sorted(by_name) == ["a.mp4", "a_again.mp4", "b.mp4", "broken.mp4", "missing.mp4"]
    assert len(table) == 5
    # Clips without a face: judged, inconclusive, no probability made up.
    assert by_name["a.mp4"]["verdict"] == "UNCERTAIN" and by_name["a.mp4"]["error"] is None
    assert by_name["broken.mp4"]["verdict"] is None and "not a video" in by_name["broken.mp4"]["error"]
    assert by_name["missing.mp4"]["error"] == engine.MISSING
    # The same bytes under two names are analysed once and each name gets its row.
    assert summary.analysed == 3
    assert by_name["a_again.mp4"]["sha256"] == by_name["a.mp4"]["sha256"]
    assert by_name["a.mp4"]["models"] == ["tiny"] and by_name["a.mp4"]["node"]

    again = _scan(paths, tmp_path / "results", tiny_models_folder, workers=2)
    assert (again.skipped, again.analysed, again.files) == (5, 0, 0)
    assert pq.read_table(tmp_path / "results").num_rows == 5


def crashing_analysis(marker_folder: str):
    """An analysis that kills its own worker process: always for crash_always*, the first time for crash_once*."""

    def analyse(path, scorer, config, detector):
        if path.name.startswith("crash_always"):
            os._exit(1)
        marker = Path(marker_folder) / "crashed-once"
        if path.name.startswith("crash_once") and not marker.exists():
            marker.touch()
            os._exit(1)
        return pipeline.analyze(path, scorer, config, detector)

    return analyse


def test_a_worker_that_dies_is_replaced_and_no_row_is_lost_or_duplicated(
    archive: Path, tiny_models_folder: Path, tmp_path: Path, local_ray: None
) -> None:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    paths = sources.expand_sources([str(archive)])
    summary = _scan(
        paths, tmp_path / "results", tiny_models_folder, workers=2, analyse=crashing_analysis(str(tmp_path))
    )
    table = pq.read_table(tmp_path / "results").to_pylist()
    names = [Path(row["file"]).name for row in table]
    assert sorted(names) == sorted(path.name for path in paths)  # every file once
    by_name = {Path(row["file"]).name: row for row in table}
    assert by_name["crash_once.mp4"]["verdict"] == "UNCERTAIN"  # tried again on a new worker, and judged
    assert by_name["crash_always.mp4"]["error"] == engine.WORKER_DIED
    # Once for crash_once and twice for crash_always, and once more when a death left two files unfinished (Ray
    # may lose the reply of a file finished just before): both then run alone.
    assert summary.replaced_workers in (3, 4)
    assert by_name["b.mp4"]["verdict"] == "UNCERTAIN"


def test_a_two_node_cluster_spreads_the_files_over_both_nodes(
    archive: Path, tiny_models_folder: Path, tmp_path: Path
) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        paths = _without_crashers(archive)
        summary = _scan(paths, tmp_path / "results", tiny_models_folder, workers=2)
        nodes = {row["node"] for row in pq.read_table(tmp_path / "results").to_pylist() if row["node"]}
        assert summary.workers == 2
        assert nodes == {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        assert len(nodes) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_the_command_line_scans_resumes_and_summarises(
    archive: Path, tiny_models_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from detector.cli import main as cli

    monkeypatch.setenv("DETECTOR_MODELS", str(tiny_models_folder))
    listed = tmp_path / "files.txt"
    listed.write_text("\n".join(str(path) for path in _without_crashers(archive)) + "\n")
    arguments = ["scan-archive", f"@{listed}", "--results", str(tmp_path / "results"), "--workers", "2"]
    assert cli.main([*arguments, "--frames", "4", "--reports", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr().out
    assert "4 file(s): UNCERTAIN 3; 1 failed" in out
    assert "failed (1): This file is not a video" in out
    assert "clips a minute" in out
    # One report per content, named by the file and its SHA-256: two inputs never clash, a copy shares its report.
    written = {row["file"]: row["report"] for row in pq.read_table(tmp_path / "results").to_pylist()}
    assert written[str(archive / "broken.mp4")] is None
    reports = {Path(report) for report in written.values() if report}
    assert sorted(path.parent for path in reports) == [tmp_path / "reports"] * 2
    assert all(path.is_file() and path.suffix == ".pdf" for path in reports)
    assert written[str(archive / "a.mp4")] == written[str(archive / "sub" / "a_again.mp4")]

    assert cli.main([*arguments, "--frames", "4"]) == 0
    assert "4 skipped" in capsys.readouterr().out
    # Other settings are another scan: nothing is skipped.
    assert cli.main([*arguments, "--frames", "6"]) == 0
    assert "0 skipped" in capsys.readouterr().out
