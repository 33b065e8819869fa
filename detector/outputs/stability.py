"""Does the verdict survive being shared? Re-encode the input as social platforms do and judge the copy again.

Platforms shrink what is uploaded and compress it hard. A verdict that flips on such a copy rests on fine detail
a shared copy loses, and a reviewer should treat it with caution. ``check_stability`` makes such a copy and runs
the same analysis (same models, thresholds and strategy) on it with fewer frames:

- **Size**: the shorter side becomes the larger of 360 pixels and half of it (1080p -> 540p, 720p -> 360p, 4K ->
  1080p), never enlarged: what platforms commonly serve.
- **Quality**: H.264 at CRF ``VIDEO_CRF`` (x264's default is 23; every 6 steps roughly halve the bit rate), a
  photo as a JPEG at quality ``PHOTO_JPEG_QUALITY``.
- **Bounded cost**: a clip of more than ``frames x RUN_LENGTH`` frames is not re-encoded whole. Around each of
  ``frames`` of the original's sampled frames, a run of ``RUN_LENGTH`` consecutive frames is encoded, the sampled
  frame in its middle, so that it is compressed as a frame inside a shot (predicted from the frames before it),
  not as an isolated picture. The re-analysis, sampling ``frames`` evenly spaced frames from the copy, lands on
  exactly those middle frames: the verdicts compare the same moments. Measured cost: docs/DESIGN.md, "Stability
  check".

Temporary files live in a ``TemporaryDirectory`` that is removed when the check ends, whatever happens.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from detector.analysis import pipeline, quality, video
from detector.analysis.faces import FaceDetector
from detector.analysis.scoring import EnsembleScorer
from detector.config import AnalysisConfig
from detector.types import VerdictLabel, VideoInfo, VideoResult, probability_text

logger = logging.getLogger(__name__)

STABILITY_FRAMES = 16
RUN_LENGTH = 8
MIN_SHORT_SIDE = 360
VIDEO_CRF = 34
PHOTO_JPEG_QUALITY = 50


@dataclass(frozen=True)
class StabilityResult:
    """The verdict before and after re-encoding, and what that means in one sentence.

    ``shift`` is the re-encoded probability minus the original one (``None`` when either is missing). ``holds``
    when the label is the same and the copy could be judged. ``copy_description`` says how the copy was made
    (``"540p, low quality"``); ``frames_checked`` how many frames of it were sampled.
    """

    original_label: VerdictLabel
    original_probability: float | None
    reencoded_label: VerdictLabel
    reencoded_probability: float | None
    holds: bool
    shift: float | None
    sentence: str
    copy_description: str
    copy_width: int
    copy_height: int
    frames_checked: int
    seconds: float

    def __post_init__(self) -> None:
        for name in ("original_probability", "reencoded_probability"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.holds and self.reencoded_probability is None:
            raise ValueError("a verdict cannot hold on a copy that could not be judged")

    def as_dict(self) -> dict[str, object]:
        """The fields as JSON-ready values (labels as their names, numbers rounded to 4 places)."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "holds": self.holds,
            "original_verdict": self.original_label.value,
            "original_fake_probability": rounded(self.original_probability),
            "reencoded_verdict": self.reencoded_label.value,
            "reencoded_fake_probability": rounded(self.reencoded_probability),
            "shift": rounded(self.shift),
            "sentence": self.sentence,
            "copy": self.copy_description,
            "copy_size": [self.copy_width, self.copy_height],
            "frames_checked": self.frames_checked,
            "seconds": round(self.seconds, 2),
        }


def can_check(result: VideoResult) -> bool:
    """Whether there is a verdict to check: not when the original analysis could not judge at all."""
    return result.verdict.fake_probability is not None and bool(result.frames)


def copy_size(info: VideoInfo) -> tuple[int, int]:
    """The re-encoded copy's ``(width, height)``: shorter side the larger of 360 and half, never enlarged.

    Rounded as ``video.iter_frames`` rounds a frame shrunk to a longer side of ``max(copy_size(info))``.
    """
    short_side, long_side = min(info.width, info.height), max(info.width, info.height)
    target = min(short_side, max(MIN_SHORT_SIDE, short_side // 2))
    scale = round(long_side * target / short_side) / long_side
    return max(1, round(info.width * scale)), max(1, round(info.height * scale))


def frames_to_encode(info: VideoInfo, sampled: list[int], frames: int) -> tuple[list[int], int]:
    """The frame indices the copy is made of, ascending, and how many frames the re-analysis should sample.

    A short clip (at most ``frames * RUN_LENGTH`` frames) is taken whole and sampled ``frames`` times. Otherwise
    ``frames`` of the ``sampled`` indices (evenly spread; all of them when there are fewer) each get a run of
    ``RUN_LENGTH`` frames with the sampled one at offset ``RUN_LENGTH // 2``, where the re-analysis samples.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    if info.frame_count <= frames * RUN_LENGTH or not sampled:
        return list(range(info.frame_count)), frames
    # The sampled frame at the centre of each of ``frames`` equal segments, as sampling itself spreads frames.
    spread = (
        range(len(sampled))
        if len(sampled) <= frames
        else [(2 * segment + 1) * len(sampled) // (2 * frames) for segment in range(frames)]
    )
    chosen = sorted({sampled[position] for position in spread})
    wanted: set[int] = set()
    for centre in chosen:
        start = min(max(0, centre - RUN_LENGTH // 2), max(0, info.frame_count - RUN_LENGTH))
        wanted.update(range(start, min(start + RUN_LENGTH, info.frame_count)))
    return sorted(wanted), len(chosen)


def _write_video_copy(path: Path, info: VideoInfo, indices: list[int], size: tuple[int, int], out: Path) -> None:
    config = AnalysisConfig(max_frame_side=max(size))

    def frames() -> Iterator[np.ndarray]:
        for frame in video.iter_frames(path, info, indices, config):
            image = frame.image
            if (image.shape[1], image.shape[0]) != size:  # A stream whose size changes midway: keep one size.
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            yield image

    video.write_h264(frames(), out, info.fps, crf=VIDEO_CRF)


def _write_photo_copy(path: Path, info: VideoInfo, size: tuple[int, int], out: Path) -> None:
    (frame,) = video.iter_frames(path, info, [0], AnalysisConfig(max_frame_side=max(size)))
    Image.fromarray(frame.image).save(out, format="JPEG", quality=PHOTO_JPEG_QUALITY)


def describe_copy(info: VideoInfo, size: tuple[int, int]) -> str:
    """How the copy was made, in words: ``"540p, low quality"``; a photo ``"a 640 × 480 low-quality JPEG"``."""
    if info.is_photo:
        return f"a {size[0]} × {size[1]} low-quality JPEG"
    return f"{min(size)}p, low quality"


# What a severe quality issue of the copy says about its faces (detector/quality.py's codes).
_ISSUE_WORDS = {
    quality.FACES_SMALL: "too small",
    quality.BLURRY: "too blurry",
    quality.HEAVY_COMPRESSION: "too compressed",
}


def _sentence(original: tuple[VerdictLabel, float | None], copy: VideoResult, description: str, photo: bool) -> str:
    """The stability check in one plain sentence (two when the verdict does not hold)."""
    label, probability = original
    verdict = copy.verdict
    action = f"re-compressing as {description}" if photo else f"re-encoding at {description}"
    if verdict.fake_probability is None:
        return (
            f"After {action}, the checker could not judge the copy: {verdict.reason} Treat the verdict with caution: "
            "a copy shared online may not be judged at all."
        )
    before = (
        "no probability"
        if probability is None
        else probability_text(probability, (verdict.threshold, verdict.uncertain_low))
    )
    if verdict.label is label:
        return f"The verdict holds after {action} ({before} -> {verdict.probability_text()})."
    words = sorted({_ISSUE_WORDS.get(issue.code) for issue in copy.quality_issues if issue.severe} - {None})
    because = f", because in the copy the faces are {' and '.join(words)} to judge reliably" if words else ""
    return (
        f"The verdict changes after {action}: “{label.plain_words}” ({before}) becomes "
        f"“{verdict.label.plain_words}” ({verdict.probability_text()}){because}. Treat it with caution: a copy "
        "shared online may be judged differently."
    )


def check_stability(
    path: str | os.PathLike[str],
    result: VideoResult,
    scorer: EnsembleScorer,
    config: AnalysisConfig | None = None,
    detector: FaceDetector | None = None,
    progress: pipeline.Progress | None = None,
    frames: int = STABILITY_FRAMES,
) -> StabilityResult:
    """Re-encodes the input at ``path`` (analysed into ``result`` with ``config``) and judges the copy again.

    The copy is analysed with ``config`` sampling ``frames`` frames (see the module's docstring). Raises
    ``ValueError`` when ``result`` has no verdict to check (``can_check``), and what ``pipeline.analyze``
    raises for input that no longer reads.
    """
    if not can_check(result):
        raise ValueError("there is no verdict to check: the analysis could not judge this input")
    config = config or AnalysisConfig()
    started = time.perf_counter()
    info = result.info
    size = copy_size(info)
    indices, sample_count = frames_to_encode(info, [frame.index for frame in result.frames], frames)
    with tempfile.TemporaryDirectory(prefix="stability-") as folder:
        if info.is_photo:
            copy_path = Path(folder) / "copy.jpg"
            _write_photo_copy(Path(path), info, size, copy_path)
        else:
            copy_path = Path(folder) / "copy.mp4"
            _write_video_copy(Path(path), info, indices, size, copy_path)
        encoded = time.perf_counter() - started
        copy_config = config.replace(sampling="count", frames_to_sample=sample_count)
        copy = pipeline.analyze(copy_path, scorer, copy_config, detector=detector, progress=progress)
    seconds = time.perf_counter() - started
    logger.info("stability check of %s: copy made in %.2f s, %.2f s in all", info.path, encoded, seconds)
    original = result.verdict
    shift = None
    if copy.verdict.fake_probability is not None and original.fake_probability is not None:
        shift = copy.verdict.fake_probability - original.fake_probability
    description = describe_copy(info, size)
    return StabilityResult(
        original_label=original.label,
        original_probability=original.fake_probability,
        reencoded_label=copy.verdict.label,
        reencoded_probability=copy.verdict.fake_probability,
        holds=copy.verdict.fake_probability is not None and copy.verdict.label is original.label,
        shift=shift,
        sentence=_sentence((original.label, original.fake_probability), copy, description, info.is_photo),
        copy_description=description,
        copy_width=size[0],
        copy_height=size[1],
        frames_checked=len(copy.frames),
        seconds=seconds,
    )
