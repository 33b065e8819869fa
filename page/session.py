"""What the page keeps for a session and across sessions: the loaded models, one analysis at a time, and each
dropped file's result (``check``), remembered by its content and settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from detector.analysis import pipeline, uploads
from detector.analysis.faces import FaceDetector
from detector.analysis.scoring import EnsembleScorer, load_scorer
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.outputs import presentation
from detector.types import VideoResult

logger = logging.getLogger("streamlit_app")

APOLOGY = (
    "Sorry, something went wrong while checking this file. The problem has been logged for the people who "
    "maintain the checker. You can try again, or try another copy of the file."
)
# Results kept for the session: every file of one drop, and a few from before.
RESULTS_REMEMBERED = uploads.MAX_FILES + 4


@dataclass(frozen=True)
class Checked:
    """One dropped file and what became of it: a result, or the reason there is none."""

    file_name: str
    data: bytes
    key: object
    result: VideoResult | None
    error: str | None


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_scorer(folder: str, names: tuple[str, ...]) -> EnsembleScorer:
    return load_scorer(list(names), Path(folder))


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_face_detector(model: str, min_confidence: float) -> FaceDetector:
    return FaceDetector(model, min_confidence)


@st.cache_resource(show_spinner=False)
def analysis_lock() -> threading.Lock:
    """One analysis at a time across sessions: the shared face detector is not thread-safe, and two cores are few."""
    return threading.Lock()


def upload_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 1_000_000


def check(
    uploaded: st.runtime.uploaded_file_manager.UploadedFile,
    folder: Path,
    names: list[str],
    config: AnalysisConfig,
    position: str,
) -> Checked:
    """Analyses one dropped file (once per content and settings), with a progress bar; never raises."""
    data = uploaded.getvalue()
    key = uploads.analysis_key(uploads.upload_digest(data), names, config)
    results: dict = st.session_state.setdefault("results", {})
    if key not in results:
        bar = st.progress(0.0, text=f"{position}Waiting for the checker…")

        def progress(stage: str, fraction: float, message: str) -> None:
            bar.progress(presentation.overall_progress(stage, fraction), text=f"{position}{message}")

        try:
            scorer = cached_scorer(str(folder), tuple(names))
            detector = cached_face_detector(config.detector_model, config.min_face_confidence)
            with analysis_lock(), uploads.saved_upload(data, uploaded.name) as path:
                results[key] = (pipeline.analyze(path, scorer, config, detector=detector, progress=progress), None)
        except DetectorError as error:
            results[key] = (None, f"{error}\n\n{presentation.error_hint(error)}")
        except Exception:
            logger.exception("checking %r failed", uploaded.name)
            results[key] = (None, APOLOGY)
        finally:
            bar.empty()
        while len(results) > RESULTS_REMEMBERED:
            results.pop(next(iter(results)))
    result, error = results[key]
    return Checked(uploaded.name, data, key, result, error)


def forget_stale(store: dict, key: object) -> None:
    """Drops what ``store`` holds for results no longer remembered (``RESULTS_REMEMBERED``)."""
    remembered = st.session_state.get("results", {})
    for old in [old for old in store if old not in remembered and old != key]:
        store.pop(old)
