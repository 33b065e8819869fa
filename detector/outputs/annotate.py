"""The annotated video: the clip with each scored face boxed and labelled, as an H.264 mp4 that browsers play.

Each face the checker scored gets a box and a label, ``"Person 1: 0.87 fake"``, coloured by the band its score
falls in: red at or above the fake threshold, amber in the uncertain band, green below it. A strip along the
bottom gives the video's verdict, so that the file still says what it shows when it is shared on its own.

Only the sampled frames have scores. Two ways to show them (``annotation_mode``):

- ``"every_frame"``: the whole clip, every frame (at most ``MAX_OUTPUT_FPS`` a second) showing the boxes and
  scores of the *nearest* sampled frame. Nearest rather than last: sampling takes the centre of equal segments, so
  each sampled frame stands for the frames around it and a box lags a moving face by at most half a segment.
- ``"sampled_frames"``: a slideshow of the sampled frames only, ``SLIDESHOW_FPS`` a second, each with its time.
  For photos, and for clips longer than ``MAX_EVERY_FRAME_SECONDS`` or with more than
  ``MAX_EVERY_FRAME_PIXELS`` to decode: decoding every frame costs about 0.5 s per second of 1080p video on two
  cores (docs/DESIGN.md, "Annotated video"), the slideshow a fraction of that.

Frames are streamed from the decoder to the encoder, one at a time: memory holds one frame, never the video.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from detector.analysis import aggregation, video
from detector.config import AnalysisConfig
from detector.types import (
    FaceScore,
    VerdictLabel,
    VideoInfo,
    VideoResult,
    person_label,
    probability_text,
    threshold_text,
)

EVERY_FRAME = "every_frame"
SAMPLED_FRAMES = "sampled_frames"
# Longer clips become a slideshow of the sampled frames: this caps the annotated output's length and its cost.
MAX_EVERY_FRAME_SECONDS = 60.0
# Decoding work allowed in every_frame mode: 30 s of 1080p at 30 frames a second (about 15 s of decoding on two
# cores). A 60 s 4K clip would take four times as long as 60 s of 1080p, so pixels are counted, not seconds.
MAX_EVERY_FRAME_PIXELS = 30 * 30 * 1920 * 1080
# A 60 frames-a-second clip is written at 30: half the drawing and encoding, and the scores are held anyway.
MAX_OUTPUT_FPS = 30.0
# One sampled frame a second: time to read its labels before the next.
SLIDESHOW_FPS = 1.0

# Band colours, RGB, with the text colour that reads on each.
BAND_COLOURS: dict[VerdictLabel, tuple[int, int, int]] = {
    VerdictLabel.FAKE: (220, 38, 38),
    VerdictLabel.UNCERTAIN: (245, 158, 11),
    VerdictLabel.REAL: (22, 163, 74),
}
_TEXT_COLOURS: dict[VerdictLabel, tuple[int, int, int]] = {
    VerdictLabel.FAKE: (255, 255, 255),
    VerdictLabel.UNCERTAIN: (0, 0, 0),
    VerdictLabel.REAL: (255, 255, 255),
}
BAND_WORDS = {VerdictLabel.FAKE: "fake", VerdictLabel.UNCERTAIN: "uncertain", VerdictLabel.REAL: "real"}
_STRIP_COLOUR = (32, 32, 32)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotation_mode(info: VideoInfo) -> str:
    """``"every_frame"`` for a clip short and small enough to decode whole, else ``"sampled_frames"``."""
    if info.is_photo or info.frame_count == 1:
        return SAMPLED_FRAMES
    pixels = info.frame_count * info.width * info.height
    if info.duration_seconds > MAX_EVERY_FRAME_SECONDS or pixels > MAX_EVERY_FRAME_PIXELS:
        return SAMPLED_FRAMES
    return EVERY_FRAME


def band(probability: float, fake_threshold: float, uncertain_low: float) -> VerdictLabel:
    """The band a face's score falls in: FAKE at or above ``fake_threshold``, UNCERTAIN from ``uncertain_low``."""
    return aggregation.label_for(probability, fake_threshold, min(uncertain_low, fake_threshold))


def face_label(score: FaceScore, fake_threshold: float, uncertain_low: float) -> str:
    """``"Person 1: 0.87 fake"``: who, the score, and its band in one word."""
    word = BAND_WORDS[band(score.fake_probability, fake_threshold, uncertain_low)]
    shown = probability_text(score.fake_probability, (fake_threshold, uncertain_low))
    return f"{person_label(score.track_id)}: {shown} {word}"


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only."""
    return (
        text.replace("—", "-").replace("–", "-").replace("“", '"').replace("”", '"').encode("ascii", "replace").decode()
    )


def _text_metrics(image: np.ndarray) -> tuple[float, int, int]:
    """Font scale, stroke thickness and padding for text that reads at this frame size."""
    short_side = min(image.shape[:2])
    scale = max(0.4, short_side / 720.0)
    return scale, max(1, round(scale * 1.4)), max(3, round(4 * scale))


def _label(image: np.ndarray, text: str, left: int, top: int, colour: tuple, text_colour: tuple) -> None:
    """Draws ``text`` on a filled box whose top-left corner is near ``(left, top)``, kept inside the frame.

    Text too wide for the frame is drawn smaller.
    """
    scale, thickness, pad = _text_metrics(image)
    (width, height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    if width + 2 * pad > image.shape[1]:  # Too wide for the frame (a narrow portrait clip): a smaller font.
        scale *= (image.shape[1] - 2 * pad) / (width + 2 * pad)
        thickness = max(1, round(scale * 1.4))
        (width, height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    box_width, box_height = width + 2 * pad, height + baseline + 2 * pad
    left = int(min(max(0, left), max(0, image.shape[1] - box_width)))
    top = int(min(max(0, top), max(0, image.shape[0] - box_height)))
    cv2.rectangle(image, (left, top), (left + box_width, top + box_height), colour, cv2.FILLED)
    origin = (left + pad, top + pad + height)
    cv2.putText(image, text, origin, _FONT, scale, text_colour, thickness, cv2.LINE_AA)


def draw_faces(
    image: np.ndarray, faces: Sequence[FaceScore], box_scale: float, fake_threshold: float, uncertain_low: float
) -> np.ndarray:
    """``image`` ``(H, W, 3) uint8 RGB`` with each face boxed and labelled, drawn in place and returned.

    ``box_scale`` takes the faces' boxes (in the pixels of the frames the analysis decoded) to ``image``'s.
    The label sits above the box, or inside its top edge when the box touches the top of the frame.
    """
    _, thickness, _ = _text_metrics(image)
    line = max(2, thickness + 1)
    for face in sorted(faces, key=lambda face: face.track_id):
        level = band(face.fake_probability, fake_threshold, uncertain_low)
        colour = BAND_COLOURS[level]
        box = face.box
        x0, y0 = round(box.x * box_scale), round(box.y * box_scale)
        x1, y1 = round((box.x + box.width) * box_scale), round((box.y + box.height) * box_scale)
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, line)
        text = face_label(face, fake_threshold, uncertain_low)
        scale, label_thickness, pad = _text_metrics(image)
        (_, text_height), baseline = cv2.getTextSize(text, _FONT, scale, label_thickness)
        label_height = text_height + baseline + 2 * pad
        top = y0 - label_height if y0 - label_height >= 0 else max(0, y0)
        _label(image, text, x0 - line // 2, top, colour, _TEXT_COLOURS[level])
    return image


def _draw_strip(image: np.ndarray, text: str, at_top: bool) -> None:
    """A dark strip across the frame with white text, along the top or the bottom."""
    # _label keeps its box inside the frame: a top past the bottom edge puts the strip along the bottom.
    _label(image, text, 0, 0 if at_top else image.shape[0], _STRIP_COLOUR, (255, 255, 255))


def verdict_line(result: VideoResult) -> str:
    """The strip along the bottom: ``"Deepfake check: Likely manipulated - fake probability 0.87"``."""
    verdict = result.verdict
    if verdict.fake_probability is None:
        return f"Deepfake check: {verdict.label.plain_words}"
    return f"Deepfake check: {verdict.label.plain_words} - fake probability {verdict.probability_text()}"


def _box_scale(info: VideoInfo, image: np.ndarray, analysis_max_side: int) -> float:
    """From the pixels of the frames the analysis decoded (at most ``analysis_max_side``) to ``image``'s."""
    analysis_width = info.width * min(1.0, analysis_max_side / max(info.width, info.height))
    return image.shape[1] / analysis_width


def _first_size(image: np.ndarray, shape: tuple[int, ...] | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """``image`` at the first frame's size (``shape``; ``None`` for the first frame): a stream whose picture size
    changes midway still makes one video."""
    if shape is not None and image.shape != shape:
        image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return image, image.shape


def _nearest(sampled: list[int], index: int) -> int:
    """The position in ``sampled`` (ascending frame indices) of the one nearest ``index``; ties go to the earlier."""
    position = bisect.bisect_left(sampled, index)
    if position == 0:
        return 0
    if position == len(sampled):
        return len(sampled) - 1
    return position if sampled[position] - index < index - sampled[position - 1] else position - 1


def _every_frame(
    path: Path, result: VideoResult, max_side: int, analysis_max_side: int, thresholds: tuple[float, float]
) -> tuple[Iterator[np.ndarray], float]:
    info = result.info
    step = max(1, math.ceil(info.fps / MAX_OUTPUT_FPS - 1e-9))
    sampled = [frame.index for frame in result.frames]
    faces = [frame.faces for frame in result.frames]
    strip = _ascii(verdict_line(result))
    config = AnalysisConfig(max_frame_side=max_side)

    def frames() -> Iterator[np.ndarray]:
        shape: tuple[int, ...] | None = None
        for frame in video.iter_frames(path, info, range(0, info.frame_count, step), config):
            image, shape = _first_size(frame.image, shape)
            nearest = faces[_nearest(sampled, frame.index)]
            draw_faces(image, nearest, _box_scale(info, image, analysis_max_side), *thresholds)
            _draw_strip(image, strip, at_top=False)
            yield image

    return frames(), info.fps / step


def _sampled_frames(
    path: Path, result: VideoResult, max_side: int, analysis_max_side: int, thresholds: tuple[float, float]
) -> tuple[Iterator[np.ndarray], float]:
    info = result.info
    by_index = {frame.index: frame.faces for frame in result.frames}
    strip = _ascii(verdict_line(result))
    config = AnalysisConfig(max_frame_side=max_side)
    total = len(result.frames)

    def frames() -> Iterator[np.ndarray]:
        shape: tuple[int, ...] | None = None
        for number, frame in enumerate(video.iter_frames(path, info, sorted(by_index), config), start=1):
            image, shape = _first_size(frame.image, shape)
            draw_faces(image, by_index.get(frame.index, ()), _box_scale(info, image, analysis_max_side), *thresholds)
            if not info.is_photo:
                _draw_strip(image, f"{frame.time_seconds:.1f} s - sampled frame {number} of {total}", at_top=True)
            _draw_strip(image, strip, at_top=False)
            yield image

    return frames(), SLIDESHOW_FPS


def write_annotated_video(
    path: str | os.PathLike[str],
    result: VideoResult,
    out_path: str | os.PathLike[str],
    fake_threshold: float,
    uncertain_low: float,
    max_side: int = 720,
    analysis_max_side: int = AnalysisConfig.max_frame_side,
) -> Path:
    """Writes the annotated copy of the video at ``path``, analysed into ``result``, to ``out_path`` (H.264 mp4).

    Frames are shrunk to a longer side of at most ``max_side``. ``analysis_max_side`` is the ``max_frame_side``
    the analysis ran with: the faces' boxes are in the pixels of the frames it decoded. The mode
    (``annotation_mode``) follows the clip's length and size. Raises ``UnreadableVideoError`` when the video no
    longer decodes, ``ValueError`` when no frame could be written; a partly written file is removed.
    """
    if max_side < 16:
        raise ValueError(f"max_side must be at least 16, got {max_side}")
    if not result.frames:
        raise ValueError("the result has no sampled frames to annotate")
    thresholds = (fake_threshold, min(uncertain_low, fake_threshold))
    make = _every_frame if annotation_mode(result.info) == EVERY_FRAME else _sampled_frames
    frames, fps = make(Path(path), result, max_side, analysis_max_side, thresholds)
    video.write_h264(frames, out_path, fps)
    return Path(out_path)


def annotated_photo(
    path: str | os.PathLike[str],
    result: VideoResult,
    fake_threshold: float,
    uncertain_low: float,
    max_side: int = 1280,
    analysis_max_side: int = AnalysisConfig.max_frame_side,
) -> np.ndarray:
    """The photo at ``path``, analysed into ``result``, with its faces boxed and labelled: ``(H, W, 3) uint8 RGB``.

    A photo is one frame: the annotated video would be a clip of one still, so it is drawn as a picture instead.
    """
    if not result.info.is_photo:
        raise ValueError(f"{result.info.path} is not a photo: use write_annotated_video")
    thresholds = (fake_threshold, min(uncertain_low, fake_threshold))
    frames, _ = _sampled_frames(Path(path), result, max_side, analysis_max_side, thresholds)
    images = list(frames)
    if len(images) != 1:
        raise ValueError(f"expected the photo's one frame, decoded {len(images)}")
    return images[0]


def write_annotated_photo(
    path: str | os.PathLike[str],
    result: VideoResult,
    out_path: str | os.PathLike[str],
    fake_threshold: float,
    uncertain_low: float,
    max_side: int = 1280,
    analysis_max_side: int = AnalysisConfig.max_frame_side,
) -> Path:
    """Writes ``annotated_photo`` to ``out_path`` as a PNG and returns the path."""
    image = annotated_photo(path, result, fake_threshold, uncertain_low, max_side, analysis_max_side)
    Image.fromarray(image).save(out_path, format="PNG")
    return Path(out_path)


def output_paths(out: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Where each input's annotated copy goes: ``out`` itself for one input; for several, one file per input next
    to ``out``, named ``<out stem>-<input stem><out suffix>`` (``a.mp4`` -> ``annotated-a.mp4``). A photo's copy
    is a PNG: its path ends in ``.png`` whatever ``out`` ends in (see ``write_annotated_photo``)."""
    out = Path(out)
    paths: list[Path] = []
    for source in inputs:
        candidate = out if len(inputs) == 1 else out.with_name(f"{out.stem}-{Path(source).stem}{out.suffix}")
        stem, number = candidate.stem, 2
        while candidate in paths:  # Two inputs with the same stem from different folders.
            candidate, number = candidate.with_name(f"{stem}-{number}{candidate.suffix}"), number + 1
        paths.append(candidate)
    return paths


def write_annotated(
    path: str | os.PathLike[str],
    result: VideoResult,
    out_path: str | os.PathLike[str],
    analysis_max_side: int = AnalysisConfig.max_frame_side,
) -> Path:
    """The annotated copy of a video (H.264 mp4) or a photo (PNG, whatever ``out_path`` ends in), drawn with the
    thresholds the analysis decided with; returns where it went."""
    thresholds = result.thresholds
    if result.info.is_photo:
        return write_annotated_photo(
            path,
            result,
            Path(out_path).with_suffix(ANNOTATED_PHOTO_SUFFIX),
            thresholds.fake,
            thresholds.uncertain_low,
            analysis_max_side=analysis_max_side,
        )
    return write_annotated_video(
        path, result, out_path, thresholds.fake, thresholds.uncertain_low, analysis_max_side=analysis_max_side
    )


ANNOTATED_PHOTO_SUFFIX = ".png"
ANNOTATED_VIDEO_SUFFIX = ".mp4"


def annotated_file_type(result: VideoResult) -> tuple[str, str]:
    """The annotated copy's file suffix and MIME type: ``(".png", "image/png")`` or ``(".mp4", "video/mp4")``."""
    if result.info.is_photo:
        return ANNOTATED_PHOTO_SUFFIX, "image/png"
    return ANNOTATED_VIDEO_SUFFIX, "video/mp4"


def describe(result: VideoResult) -> str:
    """What the annotated video shows and how to read it, for a caption beside it."""
    fake_threshold, uncertain_low = result.thresholds.fake, result.thresholds.uncertain_low
    sampled = len(result.frames)
    if annotation_mode(result.info) == EVERY_FRAME:
        what = (
            f"The whole clip, with each face the checker scored boxed and labelled with its fake probability. Only "
            f"the {sampled} sampled frames were scored: every other frame shows the boxes and scores of the nearest "
            "sampled frame, so a box can lag behind a face that moves."
        )
    elif result.info.is_photo:
        what = "The photo, with each face the checker scored boxed and labelled with its fake probability."
    else:
        what = (
            f"The {sampled} sampled frames, one a second, each with its faces boxed and labelled with their fake "
            f"probability: the clip is too long to annotate every frame of it in a few seconds."
        )
    high, low = threshold_text(fake_threshold), threshold_text(min(uncertain_low, fake_threshold))
    if uncertain_low < fake_threshold:
        colours = f"Red: {high} or above; amber: from {low} up to {high} (uncertain); green: below {low}."
    else:
        colours = f"Red: {high} or above; green: below."
    return f"{what} {colours}"
