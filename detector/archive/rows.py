"""An archive scan's results as table rows: one row a file, and one row a scored face beside it.

The files table has a row for every input, analysed or not (``verdict`` null and ``error`` the one-line reason
``scan`` gives when it could not be analysed). The faces table holds each scored face with its person's verdict,
for whoever needs to look closer. Both carry ``file``, ``sha256`` and ``settings``, so they join.

``settings`` is a fingerprint of everything a verdict depends on besides the file: the models (their weights and
calibration), the thresholds in force and every analysis setting. A rerun skips a file only when its SHA-256 and
these settings already have a row.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from detector.config import AnalysisConfig
from detector.models.ensemble_table import member_fingerprint
from detector.models.model_card import ModelCard, Thresholds
from detector.types import VideoResult

FILES_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("verdict", pa.string()),
        ("fake_probability", pa.float64()),
        ("reason", pa.string()),
        ("error", pa.string()),
        ("models", pa.list_(pa.string())),
        ("settings", pa.string()),
        ("frames_sampled", pa.int32()),
        ("faces_scored", pa.int32()),
        ("people", pa.int32()),
        ("seconds", pa.float64()),
        ("scanned_at", pa.timestamp("us", tz="UTC")),
        ("node", pa.string()),
        ("report", pa.string()),
    ]
)
FACES_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("settings", pa.string()),
        ("person", pa.int32()),
        ("person_verdict", pa.string()),
        ("person_fake_probability", pa.float64()),
        ("frame_index", pa.int64()),
        ("time_seconds", pa.float64()),
        ("fake_probability", pa.float64()),
        ("box_x", pa.float64()),
        ("box_y", pa.float64()),
        ("box_width", pa.float64()),
        ("box_height", pa.float64()),
    ]
)


def settings_fingerprint(cards: Sequence[ModelCard], thresholds: Thresholds, config: AnalysisConfig) -> str:
    """16 hex digits that change whenever the models, their thresholds or any analysis setting change."""
    described = {
        "models": {card.name: member_fingerprint(card) for card in cards},
        "thresholds": {"fake": thresholds.fake, "uncertain_low": thresholds.uncertain_low},
        "config": config.as_dict(),
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Scanned:
    """What scanning one file gave: its row in the files table and its rows in the faces table."""

    file_row: dict[str, Any]
    face_rows: tuple[dict[str, Any], ...] = ()

    @property
    def failed(self) -> bool:
        return self.file_row["verdict"] is None


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def file_row(
    file: str,
    sha256: str | None,
    size_bytes: int | None,
    models: Sequence[str],
    settings: str,
    result: VideoResult | None = None,
    error: str | None = None,
    seconds: float = 0.0,
    node: str | None = None,
    report: str | None = None,
    scanned_at: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The files-table row of one input: from its result, or (``result`` None) from the reason it has none."""
    if (result is None) == (error is None):
        raise ValueError("a row has either a result or an error, not both and not neither")
    verdict = result.verdict if result is not None else None
    return {
        "file": file,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "verdict": verdict.label.value if verdict is not None else None,
        "fake_probability": verdict.fake_probability if verdict is not None else None,
        "reason": verdict.reason if verdict is not None else None,
        "error": error,
        "models": list(models),
        "settings": settings,
        "frames_sampled": len(result.frames) if result is not None else 0,
        "faces_scored": len(result.face_scores) if result is not None else 0,
        "people": len(result.tracks) if result is not None else 0,
        "seconds": float(seconds),
        "scanned_at": scanned_at or now(),
        "node": node,
        "report": report,
    }


def face_rows(file: str, sha256: str, settings: str, result: VideoResult) -> tuple[dict[str, Any], ...]:
    """The faces-table rows of one analysed file: every scored face with its person's verdict."""
    rows = []
    for track in result.tracks:
        for score in track.scores:
            rows.append(
                {
                    "file": file,
                    "sha256": sha256,
                    "settings": settings,
                    "person": track.track_id,
                    "person_verdict": track.verdict.label.value,
                    "person_fake_probability": track.verdict.fake_probability,
                    "frame_index": score.frame_index,
                    "time_seconds": score.time_seconds,
                    "fake_probability": score.fake_probability,
                    "box_x": score.box.x,
                    "box_y": score.box.y,
                    "box_width": score.box.width,
                    "box_height": score.box.height,
                }
            )
    return tuple(rows)


def for_duplicate(scanned: Scanned, file: str) -> Scanned:
    """The rows of another file with the same bytes: the same analysis, its own ``file`` name."""
    return Scanned(
        {**scanned.file_row, "file": file},
        tuple({**row, "file": file} for row in scanned.face_rows),
    )
