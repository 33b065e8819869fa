"""One archive worker: the models and the face detector loaded once, files analysed one after another on one core.

Plain Python, no Ray: ``detector.archive.engine`` runs it as a Ray actor, tests and benchmarks call it directly.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from detector.analysis import pipeline, video
from detector.analysis.faces import FaceDetector
from detector.analysis.scoring import EnsembleScorer, load_scorer
from detector.archive import rows
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.types import VideoResult

logger = logging.getLogger(__name__)

# The libraries' own thread pools, limited before they start (a worker that owns one core must not take two).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

Analyse = Callable[[Path, EnsembleScorer, AnalysisConfig, FaceDetector], VideoResult]


def limit_threads(threads: int) -> None:
    """Keeps TensorFlow, OpenCV and the video decoder to ``threads`` threads each in this process (the models'
    TensorFlow Lite copies get theirs from ``load_scorer``). TensorFlow is not loaded for this: it reads the
    environment when something first loads it (a report's explanations); if it is loaded already, it is told."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import cv2

    if "tensorflow" in sys.modules:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            logger.warning("TensorFlow had started already: its threads could not be limited to %d", threads)
    cv2.setNumThreads(threads)
    video.DECODER_THREAD_COUNT = threads


def report_name(path: Path, sha256: str, suffix: str = ".pdf") -> str:
    """A report's file name that two inputs never share: the file's stem and the start of its SHA-256."""
    return f"{path.stem}-{sha256[:12]}{suffix}"


def _node() -> str | None:
    """The Ray node this worker runs on, where it runs in Ray."""
    if "ray" not in sys.modules:
        return None
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


class ScanWorker:
    """Analyses files with the models named (or the default) and writes each one's report when asked."""

    def __init__(
        self,
        models: Sequence[str] | None,
        config: AnalysisConfig,
        settings: str,
        models_folder: str | None = None,
        reports_folder: str | None = None,
        threads: int | None = 1,
        analyse: Analyse | None = None,
        core: int | None = None,
    ) -> None:
        if core is not None and hasattr(os, "sched_setaffinity"):
            available = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {available[core % len(available)]})
        if threads is not None:
            limit_threads(threads)
        self.config = config
        self.settings = settings
        folder = Path(models_folder) if models_folder else None
        self.scorer = load_scorer(list(models) if models else None, folder, num_threads=threads)
        self.detector = FaceDetector(config.detector_model, config.min_face_confidence)
        self.reports_folder = Path(reports_folder) if reports_folder else None
        self.analyse = analyse or pipeline.analyze
        self.node = _node()

    def pid(self) -> int:
        return os.getpid()

    def scan(self, path: str, sha256: str, size_bytes: int) -> rows.Scanned:
        """The rows of one file; a file the checker cannot analyse gets its row with the reason, never a score."""
        started = time.perf_counter()
        names = self.scorer.names
        try:
            result = self.analyse(Path(path), self.scorer, self.config, self.detector)
        except DetectorError as error:
            seconds = time.perf_counter() - started
            return rows.Scanned(
                rows.file_row(
                    path, sha256, size_bytes, names, self.settings, error=str(error), seconds=seconds, node=self.node
                )
            )
        report = self._write_report(Path(path), sha256, result) if self.reports_folder else None
        seconds = time.perf_counter() - started
        return rows.Scanned(
            rows.file_row(
                path,
                sha256,
                size_bytes,
                names,
                self.settings,
                result=result,
                seconds=seconds,
                node=self.node,
                report=report,
            ),
            rows.face_rows(path, sha256, self.settings, result),
        )

    def _write_report(self, path: Path, sha256: str, result: VideoResult) -> str | None:
        from detector.outputs import explain, report, report_files

        assert self.reports_folder is not None
        self.reports_folder.mkdir(parents=True, exist_ok=True)
        out = self.reports_folder / report_name(path, sha256)
        try:
            content = report.build_report(
                result,
                [member.card for member in self.scorer.scorers],
                self.config,
                file_name=path.name,
                size_bytes=path.stat().st_size,
                sha256=sha256,
                overlays=explain.explain_top_faces(result, self.scorer),
            )
            out.write_bytes(report_files.render(content, out.suffix))
        except (DetectorError, OSError, ValueError) as error:
            # The verdict stands; the row says no report was written (its report column stays empty).
            logger.warning("%s: the report could not be written: %s", path, error)
            return None
        return str(out)

    def close(self) -> None:
        self.detector.close()
