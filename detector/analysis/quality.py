"""How fit the input is to be judged: measurements of each scored face, and the issues they raise.

A verdict is only as good as what the model was shown. This module measures, from the input itself, what makes
a face hard to judge, compares it with what the model was trained on, and says so in words a reviewer can act
on. It never looks at a score.

Per scored face (``measure_face``):

- **face size**: the detector box's larger side in frame pixels (``FaceBox.size``);
- **sharpness**: variance of the Laplacian of the ``(S, S)`` grey face crop the model scored (low = blurry);
- **blockiness**: how much larger grey-level steps are across the codec's 8 x 8 block boundaries than inside the
  blocks, over the face's region of the decoded frame (1 = no blocking; heavy compression raises it).

Per video: its duration and the share of sampled frames that held a face the model could judge.

The thresholds are measured low percentiles of the training faces and of the sample clips
(``scripts/measure_quality.py``, numbers in ``docs/DESIGN.md``, "Input quality and explanations"). ``assess``
turns the measurements into ``QualityIssue``s; ``review_verdict`` downgrades a person's REAL or FAKE verdict to
UNCERTAIN when most of their faces are too small, too blurry or too compressed to judge (the rule is in its
docstring).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from detector.types import FaceBox, QualityIssue, Track, Verdict, VerdictLabel, VideoInfo

BLOCK = 8
# Grey-level steps are compared with this added to both sides: steps under about one grey level are rounding
# noise, and without it a region compressed flat inside its blocks (all steps 0) would read without bound.
STEP_FLOOR = 1.0

FACES_SMALL = "faces_small"
BLURRY = "blurry"
HEAVY_COMPRESSION = "heavy_compression"
FEW_FACE_FRAMES = "few_face_frames"
VERY_SHORT = "very_short"


@dataclass(frozen=True)
class QualityThresholds:
    """Where a measurement starts to be an issue. The defaults are measured: see docs/DESIGN.md, "Calibrating the
    quality limits".

    A face is *small* under ``min_face_pixels`` (2nd percentile of the training faces' size), *blurry* under
    ``min_sharpness`` (2nd percentile of the training crops' sharpness) and *heavily compressed* above
    ``max_blockiness`` (above every face of the sample clips as published). A face issue is
    reported for a person when at least ``report_share`` of their faces have it, and makes their verdict
    inconclusive when at least ``severe_share`` do. A video is *very short* under ``min_duration_seconds`` and
    has *few face frames* when under ``min_face_frame_share`` of its sampled frames held a face that was scored.
    """

    min_face_pixels: float = 75.0
    min_sharpness: float = 3.8
    max_blockiness: float = 1.15
    report_share: float = 0.25
    severe_share: float = 0.5
    min_duration_seconds: float = 2.0
    min_face_frame_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_face_pixels", "min_sharpness", "min_duration_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.max_blockiness) and self.max_blockiness >= 1.0):
            raise ValueError(f"max_blockiness must be >= 1 (1 means no blocking), got {self.max_blockiness}")
        for name in ("report_share", "severe_share", "min_face_frame_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.report_share > self.severe_share:
            raise ValueError(f"report_share ({self.report_share}) must not exceed severe_share ({self.severe_share})")


@dataclass(frozen=True)
class FaceQuality:
    """The measurements of one scored face: box size in frame pixels, crop sharpness, frame-region blockiness."""

    face_pixels: float
    sharpness: float
    blockiness: float

    def __post_init__(self) -> None:
        for name in ("face_pixels", "sharpness", "blockiness"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def _grey(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 RGB array, got shape {getattr(image, 'shape', None)} "
            f"dtype {getattr(image, 'dtype', None)}"
        )
    if image.shape[0] < 3 or image.shape[1] < 3:
        raise ValueError(f"image must be at least 3 x 3 pixels, got {image.shape[:2]}")
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of ``image`` ``(H, W, 3) uint8 RGB`` in grey levels squared: low is blurry.

    Measured on the face crop the model scores, so a small face enlarged to the crop size reads blurry too:
    that is what the model sees.
    """
    return float(cv2.Laplacian(_grey(image), cv2.CV_64F).var())


def _boundary_ratio(steps: np.ndarray) -> float:
    """Mean step across block boundaries over mean step inside blocks; ``steps[..., j]`` is pixel j+1 minus j."""
    positions = np.arange(steps.shape[-1])
    on_boundary = positions % BLOCK == BLOCK - 1
    return float((steps[..., on_boundary].mean() + STEP_FLOOR) / (steps[..., ~on_boundary].mean() + STEP_FLOOR))


def blockiness(image: np.ndarray) -> float:
    """How much block-transform compression shows in ``image`` ``(H, W, 3) uint8 RGB``; 1.0 means none.

    The ratio of the mean absolute grey-level step across 8-pixel block boundaries to the mean step elsewhere
    (each plus ``STEP_FLOOR``), averaged over columns and rows. The image's top-left corner must lie on the
    codec's block grid (a whole frame, or a region cut by ``face_region``). JPEG, MPEG-4 and H.264 all code 8 x 8
    (or 4 x 4 and 16 x 16, on the same grid) blocks independently; at low bit rates the block edges show as steps
    this ratio picks up. Block edges that motion compensation carried off the grid are not counted, so in moving
    video it reads low rather than high. A flat image reads 1.0. Needs at least 2 x 2 blocks.
    """
    grey = _grey(image).astype(np.float32)
    if grey.shape[0] < 2 * BLOCK or grey.shape[1] < 2 * BLOCK:
        raise ValueError(f"blockiness needs at least {2 * BLOCK} x {2 * BLOCK} pixels, got {grey.shape}")
    horizontal = _boundary_ratio(np.abs(np.diff(grey, axis=1)))
    vertical = _boundary_ratio(np.abs(np.diff(grey, axis=0)).T)
    return (horizontal + vertical) / 2.0


def _block_span(start: float, length: float, limit: int) -> tuple[int, int]:
    """The whole blocks inside ``[start, start + length)`` clipped to ``[0, limit)``; at least two blocks."""
    low = math.ceil(max(0.0, start) / BLOCK) * BLOCK
    high = math.floor(min(float(limit), start + length) / BLOCK) * BLOCK
    if high - low < 2 * BLOCK:
        # Too small to hold two whole blocks: the two blocks nearest the centre, inside the frame.
        nearest = round((start + length / 2) / BLOCK) * BLOCK - BLOCK
        low = max(0, min(nearest, limit // BLOCK * BLOCK - 2 * BLOCK))
        high = min(limit, low + 2 * BLOCK)
    return low, high


def face_region(frame: np.ndarray, box: FaceBox) -> np.ndarray:
    """The whole 8 x 8 blocks of ``frame`` ``(H, W, 3) uint8 RGB`` inside ``box`` (a view).

    The region starts and ends on multiples of 8 so that ``blockiness`` sees the codec's block boundaries where
    they are, and keeps inside the box so that the edge between face and background is not measured (an edge
    that happens to lie on the grid would read as blocking). At least 2 x 2 blocks where the frame allows.
    """
    height, width = frame.shape[:2]
    left, right = _block_span(box.x, box.width, width)
    top, bottom = _block_span(box.y, box.height, height)
    return frame[top:bottom, left:right]


def measure_face(frame: np.ndarray, box: FaceBox, crop: np.ndarray) -> FaceQuality:
    """The measurements of one face: ``box`` in ``frame`` ``(H, W, 3) uint8 RGB``, ``crop`` ``(S, S, 3)``."""
    return FaceQuality(face_pixels=box.size, sharpness=sharpness(crop), blockiness=blockiness(face_region(frame, box)))


def bits_per_pixel(info: VideoInfo) -> float:
    """The file's average bits per displayed pixel per frame: ``size_bytes * 8 / (width * height * frames)``.

    A coarse, content-dependent figure (a still scene needs fewer bits), reported beside the measurements.
    """
    return info.size_bytes * 8.0 / (info.width * info.height * info.frame_count)


def _person(track_id: int) -> str:
    return f"Person {track_id + 1}"


def _face_issue(
    code: str, track_id: int, values: np.ndarray, flags: np.ndarray, threshold: float, limits: QualityThresholds
) -> QualityIssue | None:
    """The issue ``code`` for one person's faces, or ``None`` when fewer than ``report_share`` of them have it."""
    share = float(np.mean(flags))
    if share < limits.report_share or share == 0.0:
        return None
    median = float(np.median(values))
    count, total = int(np.count_nonzero(flags)), len(flags)
    messages = {
        FACES_SMALL: f"{count} of {total} faces are smaller than {threshold:.0f} pixels across (median {median:.0f} "
        "px), smaller than almost all the faces the model was trained on. A higher-resolution copy or a closer "
        "shot would be judged more reliably.",
        BLURRY: f"{count} of {total} faces are blurrier than almost all the faces the model was trained on "
        f"(sharpness median {median:.1f}, limit {threshold:.1f}). A sharper copy (the original file, not resized, "
        "without motion blur) would be judged more reliably.",
        HEAVY_COMPRESSION: f"{count} of {total} faces show compression blocks (blockiness median {median:.2f}, "
        f"limit {threshold:.2f}): the video was heavily compressed, which can hide or imitate the traces the "
        "model looks for. The original file or a higher-quality copy would be judged more reliably.",
    }
    return QualityIssue(
        code=code,
        message=messages[code],
        value=median,
        threshold=threshold,
        severe=share >= limits.severe_share,
        track_id=track_id,
        share=share,
    )


def assess(
    faces: Mapping[tuple[int, int], FaceQuality],
    info: VideoInfo,
    frames_examined: int,
    thresholds: QualityThresholds | None = None,
) -> list[QualityIssue]:
    """The quality issues of one analysed video, from its measurements alone.

    ``faces`` maps ``(frame_index, track_id)`` to the measurements of each scored face of the people kept;
    ``frames_examined`` is how many frames were sampled. Video issues first (``very_short``,
    ``few_face_frames``), then each person's face issues in track order (``faces_small``, ``blurry``,
    ``heavy_compression``), reported when at least ``report_share`` of that person's faces have them and severe
    when at least ``severe_share`` do. With no scored face there are no face issues to report: the verdict
    already says that no face could be judged.
    """
    limits = thresholds or QualityThresholds()
    if frames_examined < 0:
        raise ValueError(f"frames_examined must be >= 0, got {frames_examined}")
    issues: list[QualityIssue] = []
    # A photo has no duration: it is one frame, and its verdict's reason says so.
    if not info.is_photo and info.duration_seconds < limits.min_duration_seconds:
        issues.append(
            QualityIssue(
                code=VERY_SHORT,
                message=f"The clip is only {info.duration_seconds:.1f} seconds long, so the sampled frames show "
                "nearly the same moment and add little independent evidence. A longer clip would be judged more "
                "reliably.",
                value=info.duration_seconds,
                threshold=limits.min_duration_seconds,
            )
        )
    frames_with_face = len({frame_index for frame_index, _ in faces})
    if faces and frames_examined and frames_with_face / frames_examined < limits.min_face_frame_share:
        issues.append(
            QualityIssue(
                code=FEW_FACE_FRAMES,
                message=f"Only {frames_with_face} of {frames_examined} sampled frames showed a face the model could "
                "judge, so the verdict rests on few frames. A clip in which the face is visible for longer would "
                "be judged more reliably.",
                value=frames_with_face / frames_examined,
                threshold=limits.min_face_frame_share,
                share=frames_with_face / frames_examined,
            )
        )
    for track_id in sorted({track for _, track in faces}):
        measured = [quality for (_, track), quality in sorted(faces.items()) if track == track_id]
        size = np.array([face.face_pixels for face in measured])
        sharp = np.array([face.sharpness for face in measured])
        blocky = np.array([face.blockiness for face in measured])
        for issue in (
            _face_issue(FACES_SMALL, track_id, size, size < limits.min_face_pixels, limits.min_face_pixels, limits),
            _face_issue(BLURRY, track_id, sharp, sharp < limits.min_sharpness, limits.min_sharpness, limits),
            _face_issue(
                HEAVY_COMPRESSION, track_id, blocky, blocky > limits.max_blockiness, limits.max_blockiness, limits
            ),
        ):
            if issue is not None:
                issues.append(issue)
    return issues


def review_verdict(verdict: Verdict, issues: Sequence[QualityIssue]) -> Verdict:
    """``verdict`` made inconclusive when a severe issue says the faces behind it could not be judged reliably.

    The rule: a REAL or FAKE verdict becomes UNCERTAIN when any of ``issues`` is severe, that is when at least
    ``severe_share`` (by default half) of the person's scored faces are smaller, blurrier or more compressed than
    the thresholds, all measured from the input. The probability is kept (it is still what the model said) and
    the reason says why it is not trusted. Other verdicts are returned as they are.
    """
    severe = [issue for issue in issues if issue.severe]
    if not severe or verdict.label is VerdictLabel.UNCERTAIN or verdict.fake_probability is None:
        return verdict
    reason = (
        f"Inconclusive, although the combined score {verdict.probability_text()} would read "
        f"“{verdict.label.plain_words}”: " + " ".join(issue.message for issue in severe)
    )
    return replace(verdict, label=VerdictLabel.UNCERTAIN, reason=reason)


def review_track(track: Track, issues: Sequence[QualityIssue]) -> Track:
    """``track`` with its verdict reviewed against the issues about that person (see ``review_verdict``)."""
    own = [issue for issue in issues if issue.track_id == track.track_id]
    return replace(track, verdict=review_verdict(track.verdict, own))


def notes(issues: Sequence[QualityIssue], verdict: Verdict, people: int) -> list[str]:
    """The issues as notes to show beside ``verdict``: those its reason does not already state.

    Person issues are prefixed with the person (``"Person 2: ..."``) when the video has more than one person.
    """
    lines = []
    for issue in issues:
        if issue.message in verdict.reason:
            continue
        prefix = f"{_person(issue.track_id)}: " if issue.track_id is not None and people > 1 else ""
        lines.append(prefix + issue.message)
    return lines
