"""The one configuration object of an analysis.

Defaults live here. The command line and the page both build an ``AnalysisConfig``; the Python API takes one.
Numbers with a measured reason carry a pointer to ``docs/DESIGN.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SAMPLING_MODES = ("count", "stride")
DETECTOR_MODELS = ("short_range", "full_range")


@dataclass(frozen=True)
class AnalysisConfig:
    """How to sample, find faces, score and decide.

    Sampling: ``sampling="count"`` takes ``frames_to_sample`` evenly spaced frames; ``sampling="stride"`` takes every
    ``frame_stride``-th frame, at most ``max_frames`` of them.

    Faces: a face is kept when the detector's confidence is at least ``min_face_confidence``; faces smaller than
    ``min_face_size`` pixels (larger box side, in the frame) are detected but not scored, because the model cannot
    judge them. How a face is cropped (size, margin, centre) is the model's to say, not the analysis's: it comes
    from the model card's preprocessing, so that inference crops are framed exactly like the training crops.

    Decision: per track and per video, by the named ``aggregation`` strategy. A probability at or above
    ``fake_threshold`` reads FAKE; one inside ``[uncertain_low, fake_threshold)`` reads UNCERTAIN; below it REAL.
    Both default to ``None``: the thresholds chosen on validation data apply (the model card's; for several models,
    those fitted for their average: ``EnsembleScorer.thresholds``).
    With fewer than ``min_frames_with_face`` scored frames the checker abstains; a video that has fewer frames than
    that (a photo has one) needs a face in all of them.
    """

    sampling: str = "count"
    frames_to_sample: int = 32
    frame_stride: int = 10
    max_frames: int = 128
    max_frame_side: int = 1920
    max_file_megabytes: int = 1024

    detector_model: str = "full_range"
    min_face_confidence: float = 0.5
    min_face_size: int = 48
    max_faces_per_frame: int = 4
    track_iou_threshold: float = 0.2
    min_track_share: float = 0.25

    aggregation: str = "confident"
    fake_threshold: float | None = None
    uncertain_low: float | None = None
    min_frames_with_face: int = 4

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}")
        if self.detector_model not in DETECTOR_MODELS:
            raise ValueError(f"detector_model must be one of {DETECTOR_MODELS}, got {self.detector_model!r}")
        for name in (
            "frames_to_sample",
            "frame_stride",
            "max_frames",
            "max_frame_side",
            "max_file_megabytes",
            "max_faces_per_frame",
            "min_frames_with_face",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0, got {self.min_face_size}")
        for name in (
            "min_face_confidence",
            "track_iou_threshold",
            "min_track_share",
            "fake_threshold",
            "uncertain_low",
        ):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if (
            self.uncertain_low is not None
            and self.fake_threshold is not None
            and self.uncertain_low > self.fake_threshold
        ):
            raise ValueError(
                f"uncertain_low ({self.uncertain_low}) must not exceed fake_threshold ({self.fake_threshold})"
            )

    def replace(self, **changes: object) -> AnalysisConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
