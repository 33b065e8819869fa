"""Photos as videos of one frame: a JPEG, PNG or WebP photo probed and decoded by Pillow, upright by its EXIF
orientation, at bounded size. FFmpeg's ``mjpeg`` decoder gives the mirrored EXIF orientations (2, 4, 5, 7) as an
angle only, so the picture came out mirrored: Pillow's ``ImageOps.exif_transpose`` applies them all.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from detector.errors import UnreadableVideoError, VideoTooLargeError
from detector.types import VideoInfo

logger = logging.getLogger(__name__)

# The photos read as one-frame videos: Pillow's format name -> (VideoInfo.codec, VideoInfo.container). MPO is the
# multi-picture JPEG many cameras write (its first picture is the photo).
PHOTO_FORMATS = {"JPEG": ("mjpeg", "jpeg"), "MPO": ("mjpeg", "jpeg"), "PNG": ("png", "png"), "WEBP": ("webp", "webp")}
PHOTO_FPS = 1.0
_DAMAGED_PHOTO = "This photo could not be decoded (the file may be damaged or incomplete)."
_PHOTO_TOO_LARGE = "This photo has more pixels than the checker accepts ({error}). Resize it and try again."
# The clockwise rotation in each EXIF orientation (tag 0x0112), as the EXIF specification words them; 2, 4, 5 and
# 7 also mirror the picture.
_EXIF_ORIENTATION = 0x0112
_EXIF_ROTATION = {2: 0, 3: 180, 4: 180, 5: 270, 6: 90, 7: 90, 8: 270}


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` shrunk (INTER_AREA) to a longer side of at most ``max_side``; as it is when already small."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


def probe_photo(path: Path, size_bytes: int, max_side: int) -> VideoInfo | None:
    """The info of a still photo Pillow reads (``PHOTO_FORMATS``), or ``None`` for any other file.

    An animated image is left to FFmpeg, as a video. The photo is decoded once, to prove that it decodes (as
    ``probe`` does with a video's first frame).
    """
    try:
        with Image.open(path) as image:
            if image.format not in PHOTO_FORMATS:
                return None
            if image.format != "MPO" and getattr(image, "n_frames", 1) > 1:
                return None
            codec, container = PHOTO_FORMATS[image.format]
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as error:
        raise VideoTooLargeError(_PHOTO_TOO_LARGE.format(error=error)) from error
    except (OSError, SyntaxError, ValueError) as error:
        logger.info("Pillow could not read the photo %s: %s", path, error)
        raise UnreadableVideoError(_DAMAGED_PHOTO) from error
    decode_photo(path, max_side)
    rotation = _EXIF_ROTATION.get(orientation, 0)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return VideoInfo(
        path=str(path),
        size_bytes=size_bytes,
        width=width,
        height=height,
        fps=PHOTO_FPS,
        frame_count=1,
        duration_seconds=0.0,
        rotation_degrees=rotation,
        codec=codec,
        container=container,
    )


def decode_photo(path: Path, max_side: int) -> np.ndarray:
    """``(H, W, 3) uint8 RGB``: the photo upright (EXIF orientation applied), longer side at most ``max_side``.

    A large JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still leaves ``max_side`` pixels (``draft``):
    a 48-megapixel phone photo never takes its full size in memory.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            scale = min(1.0, max_side / max(width, height))
            image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except Image.DecompressionBombError as error:
        raise VideoTooLargeError(_PHOTO_TOO_LARGE.format(error=error)) from error
    except (OSError, SyntaxError, ValueError) as error:
        logger.info("Pillow could not decode the photo %s: %s", path, error)
        raise UnreadableVideoError(_DAMAGED_PHOTO) from error
    return np.ascontiguousarray(shrink(np.array(upright, dtype=np.uint8), max_side))
