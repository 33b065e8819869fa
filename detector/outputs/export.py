"""Results as JSON and CSV, for people to keep and for tools to read.

The JSON keys ``file``, ``verdict``, ``fake_probability`` (null when there was too little to judge) and ``frames``
(each with ``index``, ``time``, and ``faces`` holding ``box``, ``track`` and ``fake_probability``) are a stable
interface: other tools measure the product through them. Add keys freely; never rename these. ``quality_issues``
lists what was measured in the input that makes the verdict less reliable (``detector/quality.py``).
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from detector.config import AnalysisConfig
from detector.types import FaceScore, QualityIssue, Verdict, VideoResult

SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "file",
    "frame_index",
    "time_seconds",
    "track",
    "x",
    "y",
    "width",
    "height",
    "detector_confidence",
    "fake_probability",
)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


# Probabilities are cut, not rounded, to six decimals: one under a threshold (which has at most four,
# ``types.THRESHOLD_DECIMALS``) stays under it in the file, as in the verdict.
_PROBABILITY_STEP = Decimal("0.000001")


def _probability_decimal(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_PROBABILITY_STEP, rounding=ROUND_FLOOR)


def _probability(value: float | None) -> float | None:
    return None if value is None else float(_probability_decimal(value))


def _verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "label": verdict.label.value,
        "words": verdict.label.plain_words,
        "fake_probability": _probability(verdict.fake_probability),
        "reason": verdict.reason,
        "strategy": verdict.strategy,
        "threshold": verdict.threshold,
        "uncertain_low": verdict.uncertain_low,
        "frames_used": verdict.frames_used,
        "frames_above_threshold": verdict.frames_above_threshold,
        "frames_below_uncertain_low": verdict.frames_below_low,
    }


def _issue_dict(issue: QualityIssue) -> dict[str, Any]:
    return {
        "code": issue.code,
        "message": issue.message,
        "value": _round(issue.value),
        "threshold": issue.threshold,
        "severe": issue.severe,
        "track": issue.track_id,
        "share": _round(issue.share),
    }


def _face_dict(face: FaceScore) -> dict[str, Any]:
    box = face.box
    data = {
        "track": face.track_id,
        "box": [round(box.x, 1), round(box.y, 1), round(box.width, 1), round(box.height, 1)],
        "detector_confidence": _round(box.confidence),
        "fake_probability": _probability(face.fake_probability),
    }
    if face.model_probabilities:
        data["model_probabilities"] = [_probability(value) for value in face.model_probabilities]
    return data


def result_to_dict(
    result: VideoResult, file_name: str | None = None, config: AnalysisConfig | None = None
) -> dict[str, Any]:
    """The full result as plain JSON-serialisable data. ``file_name`` replaces the path shown (uploads)."""
    info = result.info
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "file": file_name or info.path,
        "verdict": result.verdict.label.value,
        "verdict_words": result.verdict.label.plain_words,
        "fake_probability": _probability(result.verdict.fake_probability),
        "reason": result.verdict.reason,
        "decision": _verdict_dict(result.verdict),
        "models": list(result.model_names),
        "video": {
            "size_bytes": info.size_bytes,
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 3),
            "frame_count": info.frame_count,
            "frame_count_is_estimate": info.frame_count_is_estimate,
            "duration_seconds": round(info.duration_seconds, 3),
            "rotation_degrees": info.rotation_degrees,
            "codec": info.codec,
            "container": info.container,
        },
        "people": [
            {"track": track.track_id, "frames": len(track.scores), **_verdict_dict(track.verdict)}
            for track in result.tracks
        ],
        "frames": [
            {
                "index": frame.index,
                "time": round(frame.time_seconds, 3),
                "faces": [_face_dict(face) for face in frame.faces],
            }
            for frame in result.frames
        ],
        "model_opinions": [
            {
                "model": opinion.model,
                "track": opinion.track_id,
                **_verdict_dict(opinion.verdict),
            }
            for opinion in result.opinions
        ],
        "notes": list(result.notes),
        "quality_issues": [_issue_dict(issue) for issue in result.quality_issues],
        "timings_seconds": {name: round(value, 3) for name, value in result.timings_seconds.items()},
    }
    if config is not None:
        data["config"] = config.as_dict()
    return data


def result_to_csv(result: VideoResult, file_name: str | None = None) -> str:
    """One row per face per sampled frame; a frame without a face is one row with empty face columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    name = file_name or result.info.path
    for frame in result.frames:
        if not frame.faces:
            writer.writerow([name, frame.index, f"{frame.time_seconds:.3f}", "", "", "", "", "", "", ""])
        for face in frame.faces:
            box = face.box
            writer.writerow(
                [
                    name,
                    frame.index,
                    f"{frame.time_seconds:.3f}",
                    face.track_id,
                    f"{box.x:.1f}",
                    f"{box.y:.1f}",
                    f"{box.width:.1f}",
                    f"{box.height:.1f}",
                    f"{box.confidence:.4f}",
                    str(_probability_decimal(face.fake_probability)),
                ]
            )
    return buffer.getvalue()
