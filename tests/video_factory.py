"""Synthetic videos for tests, written with PyAV into a temporary folder.

Every frame of the default drawing carries its own frame number as a row of black and white blocks across the
top quarter (most significant bit on the left), so a test can read back which frame it got, in which
orientation, after compression: ``frame_number(image)``. A red square moves along the bottom half.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# SVT-AV1 prints a banner on every encoder it opens unless told to log errors only.
os.environ.setdefault("SVT_LOG", "1")

FRAME_NUMBER_BITS = 10
MARKER_COLOUR = (255, 0, 0)

Draw = Callable[[int, int, int], np.ndarray]
"""``draw(frame_number, width, height)`` returns the upright picture, ``(height, width, 3) uint8 RGB``."""

_CONTAINERS = {
    ".mp4": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".ts": "mpegts",
    ".h264": "h264",
}
_DEFAULT_CODECS = {".webm": "libvpx-vp9", ".avi": "mpeg4"}


def av1_encoder() -> str | None:
    """The first AV1 encoder this PyAV build has, or None."""
    return next((name for name in ("libaom-av1", "libsvtav1", "librav1e") if name in av.codecs_available), None)


def draw_numbered(frame_number: int, width: int, height: int) -> np.ndarray:
    """Grey picture, frame number as blocks along the top quarter, a red square moving along the bottom half."""
    image = np.full((height, width, 3), 128, np.uint8)
    for bit in range(FRAME_NUMBER_BITS):
        value = 255 if frame_number >> (FRAME_NUMBER_BITS - 1 - bit) & 1 else 0
        left, right = bit * width // FRAME_NUMBER_BITS, (bit + 1) * width // FRAME_NUMBER_BITS
        image[: height // 4, left:right] = value
    side = max(2, min(width, height) // 6)
    x = frame_number * 3 % max(1, width - side)
    image[height - side - 2 : height - 2, x : x + side] = MARKER_COLOUR
    return image


def draw_corner_marker(frame_number: int, width: int, height: int) -> np.ndarray:
    """Grey picture with a red square in the top-left corner: shows which way is up."""
    image = np.full((height, width, 3), 128, np.uint8)
    side = max(2, min(width, height) // 4)
    image[:side, :side] = MARKER_COLOUR
    return image


def frame_number(image: np.ndarray) -> int:
    """Read back the number ``draw_numbered`` wrote on an upright ``(H, W, 3) uint8 RGB`` image."""
    height, width = image.shape[:2]
    value = 0
    for bit in range(FRAME_NUMBER_BITS):
        centre = image[height // 8, int((bit + 0.5) * width / FRAME_NUMBER_BITS)]
        value = value << 1 | int(centre.mean() > 128)
    return value


def make_video(
    path: str | os.PathLike[str],
    frames: int = 24,
    size: tuple[int, int] = (160, 96),
    fps: float = 25.0,
    codec: str | None = None,
    rotation: int = 0,
    draw: Draw = draw_numbered,
    gop: int | None = None,
    faststart: bool = False,
    rotate_tag: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a video whose container follows the suffix (.mp4 .mov .mkv .webm .avi .ts .h264).

    ``codec`` defaults to the usual one for the container: VP9 in webm, MPEG-4 part 2 in avi, else H.264.
    ``size`` is the upright (displayed) ``(width, height)``. ``rotation`` (clockwise, 0/90/180/270) is what a
    player must apply: the stored pictures are turned the other way, and the display matrix (or, with
    ``rotate_tag``, the legacy ``rotate`` metadata tag) says so, as phones do. ``gop`` is the keyframe
    interval; ``faststart`` puts the mp4 index before the data; ``options`` go to the encoder.
    """
    path = Path(path)
    codec = codec or _DEFAULT_CODECS.get(path.suffix, "libx264")
    width, height = size
    container_options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", format=_CONTAINERS[path.suffix], options=container_options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001), options=options or {})
        stored_width, stored_height = (height, width) if rotation in (90, 270) else (width, height)
        stream.width, stream.height = stored_width, stored_height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation and rotate_tag:
            stream.metadata["rotate"] = str(rotation)
        elif rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        for number in range(frames):
            upright = draw(number, width, height)
            stored = np.ascontiguousarray(np.rot90(upright, k=rotation // 90))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def make_audio_only(path: str | os.PathLike[str], seconds: float = 0.5) -> Path:
    """An mp4 holding only an AAC audio track (a 440 Hz tone)."""
    path = Path(path)
    rate = 44100
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        samples = np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate).astype(np.float32)
        chunk = stream.codec_context.frame_size or 1024
        for begin in range(0, len(samples), chunk):
            frame = av.AudioFrame.from_ndarray(samples[None, begin : begin + chunk], format="fltp", layout="mono")
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def pasted_faces(faces: list[np.ndarray], step: int = 2, background: int = 90) -> Draw:
    """A drawing of the given face images (``(S, S, 3) uint8 RGB``) side by side, drifting ``step`` px a frame."""

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        image = np.full((height, width, 3), background, np.uint8)
        for position, face in enumerate(faces):
            side = face.shape[0]
            left = 40 + position * (side + 60) + step * frame_number
            top = max(0, (height - side) // 2)
            image[top : top + side, left : left + side] = face
        return image

    return draw
