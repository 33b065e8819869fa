"""The one cropping path: the same square face crop for training and for inference.

A crop is a square centred on the detector box (optionally shifted down by ``center_shift`` box sizes), ``margin``
times the box's larger side, padded by edge replication where it leaves the frame, then resized to ``size``.
The default framing was measured against the training crops: see docs/DESIGN.md, "Crop framing".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detector.types import FaceBox


def square_box(box: FaceBox, margin: float, center_shift: float = 0.0) -> tuple[int, int, int]:
    """The crop square in frame pixels: ``(x0, y0, side)``, top-left corner and side.

    ``side`` is ``margin * box.size`` rounded (at least 1); the square's centre is the box centre moved down by
    ``center_shift * box.size`` (up when negative). The square may reach past the frame edges.
    """
    if margin <= 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a positive number, got {margin}")
    if not math.isfinite(center_shift):
        raise ValueError(f"center_shift must be finite, got {center_shift}")
    side = max(1, round(margin * box.size))
    center_x, center_y = box.center
    center_y += center_shift * box.size
    # floor(v + 0.5) rounds halves up everywhere, where round() would round them to even.
    x0 = math.floor(center_x - side / 2.0 + 0.5)
    y0 = math.floor(center_y - side / 2.0 + 0.5)
    return x0, y0, side


def crop_face(image: np.ndarray, box: FaceBox, margin: float, size: int, center_shift: float = 0.0) -> np.ndarray:
    """The face crop ``(size, size, 3) uint8 RGB`` of ``box`` in ``image`` ``(H, W, 3) uint8 RGB``.

    The crop is a new array (it does not keep the frame alive). Parts of the square outside the frame repeat the
    nearest edge pixel: black bars would be a hard straight edge that no training crop of a face in mid-frame
    has, and a classifier could learn it. Shrinking uses area averaging (no aliasing), enlarging bilinear
    interpolation (bicubic overshoots and adds the kind of halo a deepfake detector looks for).
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 RGB array, got shape {getattr(image, 'shape', None)} "
            f"dtype {getattr(image, 'dtype', None)}"
        )
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image is empty: {image.shape}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    x0, y0, side = square_box(box, margin, center_shift)
    if x0 >= 0 and y0 >= 0 and x0 + side <= width and y0 + side <= height:
        square = image[y0 : y0 + side, x0 : x0 + side]
    else:
        rows = np.clip(np.arange(y0, y0 + side), 0, height - 1)
        columns = np.clip(np.arange(x0, x0 + side), 0, width - 1)
        square = image[rows[:, None], columns[None, :]]
    if side == size:
        return np.array(square, dtype=np.uint8, copy=True, order="C")
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(square), (size, size), interpolation=interpolation)
