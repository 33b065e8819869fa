"""Typed data contracts passed along the pipeline.

video -> SampledFrame -> FaceBox -> FaceCrop -> FaceScore -> Track -> Verdict -> VideoResult.

Adapters at the edges (PyAV, MediaPipe, Keras) translate their own results into these types, so the rest of the
library depends on no framework. Images are always ``(H, W, 3) uint8 RGB`` NumPy arrays, with any rotation that
the container asks for already applied.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", None)
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got shape {shape} dtype {dtype}")


def _check_probability(value: float, name: str) -> None:
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


# The ``VideoInfo.container`` of a still photo, read as a one-frame video (``detector/video.py``).
PHOTO_CONTAINERS = frozenset({"jpeg", "png", "webp"})


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, after rotation.

    ``width`` and ``height`` are the displayed size (rotation applied). ``frame_count`` is an estimate when the
    container does not store it (webm, mkv): duration x frame rate. ``rotation_degrees`` is the clockwise rotation
    that was applied to decoded frames to display them upright.

    A still photo is a video of one frame: ``frame_count`` 1, ``fps`` 1.0, ``duration_seconds`` 0.0, and
    ``container`` its image format (``"jpeg"``, ``"png"``, ``"webp"``); see ``is_photo``.
    """

    path: str
    size_bytes: int
    width: int
    height: int
    fps: float
    frame_count: int
    duration_seconds: float
    rotation_degrees: int = 0
    codec: str = ""
    container: str = ""
    frame_count_is_estimate: bool = False

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"video size must be positive, got {self.width}x{self.height}")
        if self.fps <= 0 or not math.isfinite(self.fps):
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.frame_count < 1:
            raise ValueError(f"frame_count must be at least 1, got {self.frame_count}")
        if self.rotation_degrees not in (0, 90, 180, 270):
            raise ValueError(f"rotation_degrees must be 0, 90, 180 or 270, got {self.rotation_degrees}")

    @property
    def is_photo(self) -> bool:
        """Whether this is a still photo (JPEG, PNG, WebP) rather than a video."""
        return self.container in PHOTO_CONTAINERS


@dataclass(frozen=True, eq=False)
class SampledFrame:
    """One decoded frame. ``image`` is ``(H, W, 3) uint8 RGB``, upright."""

    index: int
    time_seconds: float
    image: np.ndarray

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"frame index must be >= 0, got {self.index}")
        _check_image(self.image, "SampledFrame.image")


@dataclass(frozen=True)
class FaceBox:
    """A detected face in frame pixel coordinates.

    ``x, y`` is the top-left corner; the box may extend past the frame edges. ``keypoints`` are the detector's
    landmarks (BlazeFace: right eye, left eye, nose tip, mouth, right ear, left ear) as ``(x, y)`` pixels.
    """

    x: float
    y: float
    width: float
    height: float
    confidence: float
    keypoints: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"face box size must be positive, got {self.width}x{self.height}")
        _check_probability(self.confidence, "FaceBox.confidence")

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2.0, self.y + self.height / 2.0)

    @property
    def size(self) -> float:
        """The larger side in pixels: what 'face size' means everywhere in the checker."""
        return max(self.width, self.height)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union of two boxes, in [0, 1]."""
        left = max(self.x, other.x)
        top = max(self.y, other.y)
        right = min(self.x + self.width, other.x + other.width)
        bottom = min(self.y + self.height, other.y + other.height)
        intersection = max(0.0, right - left) * max(0.0, bottom - top)
        union = self.width * self.height + other.width * other.height - intersection
        return intersection / union if union > 0 else 0.0


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """A square face crop cut from a sampled frame. ``image`` is ``(S, S, 3) uint8 RGB``."""

    frame_index: int
    time_seconds: float
    box: FaceBox
    image: np.ndarray

    def __post_init__(self) -> None:
        _check_image(self.image, "FaceCrop.image")
        if self.image.shape[0] != self.image.shape[1]:
            raise ValueError(f"face crops are square, got {self.image.shape[:2]}")


@dataclass(frozen=True)
class FaceScore:
    """The model's fake probability for one face in one frame, and the person (track) it belongs to."""

    frame_index: int
    time_seconds: float
    box: FaceBox
    track_id: int
    fake_probability: float
    # Each model's own probability, in ``VideoResult.model_names`` order, when several were averaged; else empty.
    model_probabilities: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _check_probability(self.fake_probability, "FaceScore.fake_probability")
        for probability in self.model_probabilities:
            _check_probability(probability, "FaceScore.model_probabilities")
        if self.track_id < 0:
            raise ValueError(f"track_id must be >= 0, got {self.track_id}")


class VerdictLabel(enum.StrEnum):
    FAKE = "FAKE"
    REAL = "REAL"
    UNCERTAIN = "UNCERTAIN"

    @property
    def plain_words(self) -> str:
        return {
            VerdictLabel.FAKE: "Likely manipulated",
            VerdictLabel.REAL: "No sign of manipulation found",
            VerdictLabel.UNCERTAIN: "Inconclusive",
        }[self]


@dataclass(frozen=True)
class Verdict:
    """A decision over many face scores.

    ``fake_probability`` is ``None`` exactly when the label is UNCERTAIN because there was not enough to judge;
    ``reason`` then says why, in words a reviewer can act on. It was decided at ``threshold`` (FAKE at or above)
    and ``uncertain_low`` (UNCERTAIN from there up to ``threshold``, REAL below). ``frames_used`` counts the frames
    whose scores went into the decision, ``frames_above_threshold`` how many of them scored at or above the
    threshold, ``frames_below_low`` how many under ``uncertain_low`` (frames that alone would read "no sign").
    """

    label: VerdictLabel
    fake_probability: float | None
    reason: str
    strategy: str
    threshold: float
    uncertain_low: float
    frames_used: int = 0
    frames_above_threshold: int = 0
    frames_below_low: int = 0

    def __post_init__(self) -> None:
        if min(self.frames_above_threshold, self.frames_below_low) < 0 or (
            self.frames_above_threshold + self.frames_below_low > self.frames_used
        ):
            raise ValueError(
                f"frames above the threshold ({self.frames_above_threshold}) and below uncertain_low "
                f"({self.frames_below_low}) must be counts within the {self.frames_used} frames used"
            )
        if self.fake_probability is not None:
            _check_probability(self.fake_probability, "Verdict.fake_probability")
        elif self.label is not VerdictLabel.UNCERTAIN:
            raise ValueError("a verdict without a probability must be UNCERTAIN")
        _check_probability(self.threshold, "Verdict.threshold")
        _check_probability(self.uncertain_low, "Verdict.uncertain_low")

    def probability_text(self) -> str:
        """The fake probability as a reader sees it beside the verdict's thresholds (``probability_text``)."""
        if self.fake_probability is None:
            raise ValueError("this verdict has no probability to show")
        return probability_text(self.fake_probability, (self.threshold, self.uncertain_low))


@dataclass(frozen=True)
class Track:
    """One person: the faces linked across frames, in frame order, and the verdict over them."""

    track_id: int
    scores: tuple[FaceScore, ...]
    verdict: Verdict

    @property
    def frame_indices(self) -> tuple[int, ...]:
        return tuple(score.frame_index for score in self.scores)


@dataclass(frozen=True)
class FrameRecord:
    """One sampled frame in a result: where it was and which faces it held (empty when none)."""

    index: int
    time_seconds: float
    faces: tuple[FaceScore, ...] = ()


@dataclass(frozen=True)
class QualityIssue:
    """Something measured in the input that makes the verdict less reliable (see ``detector/quality.py``).

    ``code`` names the issue (``"faces_small"``, ``"blurry"``, ``"heavy_compression"``, ``"few_face_frames"``,
    ``"very_short"``); ``message`` says what was measured and what to do, in plain words; ``value`` is the
    measurement (a median over the faces for face issues) and ``threshold`` the limit it was compared with.
    ``track_id`` is the person the issue is about, ``None`` for the whole video; ``share`` the fraction of that
    person's faces that have it. ``severe`` issues made that person's verdict inconclusive.
    """

    code: str
    message: str
    value: float
    threshold: float
    severe: bool = False
    track_id: int | None = None
    share: float | None = None

    def __post_init__(self) -> None:
        if not self.code or not self.message:
            raise ValueError("a quality issue needs a code and a message")
        if self.share is not None:
            _check_probability(self.share, "QualityIssue.share")


@dataclass(frozen=True)
class ModelOpinion:
    """What one model of an ensemble alone says about one person, by the same strategy, at its own thresholds
    (``verdict.threshold`` and ``verdict.uncertain_low``)."""

    model: str
    track_id: int
    verdict: Verdict


@dataclass(frozen=True)
class DecisionThresholds:
    """The thresholds a verdict was decided with: FAKE at or above ``fake``; UNCERTAIN from ``uncertain_low`` up to
    ``fake``; REAL below. ``chosen_on`` says where they come from (validation data, or the user's settings)."""

    fake: float
    uncertain_low: float
    chosen_on: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.uncertain_low <= self.fake <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= uncertain_low <= fake <= 1, got {self.uncertain_low}, {self.fake}"
            )

    def probability_text(self, probability: float) -> str:
        """``probability`` as a reader sees it beside these thresholds (``probability_text``)."""
        return probability_text(probability, (self.fake, self.uncertain_low))


@dataclass(frozen=True)
class VideoResult:
    """Everything the checker found in one video. ``crops`` maps (frame_index, track_id) to the face crop;
    ``thresholds`` are those the verdicts were decided with, for every output to show and draw."""

    info: VideoInfo
    model_names: tuple[str, ...]
    frames: tuple[FrameRecord, ...]
    tracks: tuple[Track, ...]
    verdict: Verdict
    thresholds: DecisionThresholds
    timings_seconds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    crops: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    quality_issues: tuple[QualityIssue, ...] = ()
    # With several models: each model's own verdict on each person (``disagreement.model_opinions``).
    opinions: tuple[ModelOpinion, ...] = ()

    @property
    def face_scores(self) -> tuple[FaceScore, ...]:
        return tuple(face for frame in self.frames for face in frame.faces)


def person_label(track_id: int) -> str:
    """How a tracked person is named to a reader: track 0 is "Person 1"."""
    return f"Person {track_id + 1}"


# Thresholds are put in force at this many decimals (``pipeline.decision_thresholds``), so that the threshold a
# reader sees is the one decided with, to the last digit.
THRESHOLD_DECIMALS = 4


def threshold_text(threshold: float) -> str:
    """A threshold as a reader sees it: to four decimals, without the zeros after the second (0.85, 0.866)."""
    text = f"{threshold:.{THRESHOLD_DECIMALS}f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def probability_text(probability: float, thresholds: Iterable[float] = ()) -> str:
    """A probability as a reader sees it beside ``thresholds``, on the same side of each as shown by
    ``threshold_text``: to two decimals, or to three where two would cross a threshold (0.152 against 0.1516, not
    0.15), else cut to four or more (0.8655 against 0.866: rounded, 0.866 would read as at the threshold)."""
    value = Decimal(repr(float(probability)))
    sides = [(float(threshold), Decimal(threshold_text(threshold))) for threshold in thresholds]
    for decimals, rounding in ((2, ROUND_HALF_UP), (3, ROUND_HALF_UP), (4, ROUND_FLOOR), (5, ROUND_FLOOR)):
        shown = value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
        if all((shown >= seen) == (probability >= threshold) for threshold, seen in sides):
            break
    return str(shown)
