"""The face mesh: points on the face of real DFDC crops, mirrored faces give mirrored points, blanks give none."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from conftest import SHARED

from detector.training import landmarks
from detector.training.landmarks import FaceLandmarker

DFDC_FACES = SHARED / "data" / "dfdc-faces"
requires_dfdc_faces = pytest.mark.skipif(
    not (DFDC_FACES / "labels.csv").is_file(), reason=f"DFDC face crops not found at {DFDC_FACES}"
)
# A few named points of the mesh (MediaPipe's topology); "right" is the subject's right, on the image's left.
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263
UPPER_LIP = 13
LOWER_LIP = 14
NOSE_TIP = 1
CHIN = 152
# Points on the face's mid-line: a mirrored crop must put them at the mirrored place.
MID_LINE = [1, 4, 6, 10, 13, 14, 17, 152, 168, 175, 199, 0]


def real_crops(count: int) -> list[np.ndarray]:
    with (DFDC_FACES / "labels.csv").open(newline="") as handle:
        names = [row["file"] for row in csv.DictReader(handle) if row["label"] == "REAL"][:count]
    crops = []
    for name in names:
        image = cv2.imread(str(DFDC_FACES / "faces" / name), cv2.IMREAD_COLOR)
        assert image is not None, name
        crops.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return crops


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    with FaceLandmarker(num_threads=1) as model:
        yield model


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    return real_crops(6)


@requires_dfdc_faces
def test_points_land_on_the_face(landmarker: FaceLandmarker, crops: list[np.ndarray]) -> None:
    for crop in crops:
        side = crop.shape[0]
        points, presence = landmarker.landmarks_and_presence(crop)
        assert points.shape == (landmarks.NUM_LANDMARKS, 2) and points.dtype == np.float32
        assert presence > 0.9
        # A tight crop can cut the chin or the forehead's edge: nearly all points are inside, none far outside.
        inside = ((points >= 0) & (points < side)).all(axis=1)
        assert inside.mean() > 0.95
        assert points.min() > -0.2 * side and points.max() < 1.2 * side
        right_eye, left_eye = points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER]
        mouth_y = points[[UPPER_LIP, LOWER_LIP], 1].mean()
        # The subject's right eye is on the image's left; both eyes in the upper half, above the nose and mouth.
        assert right_eye[0] < side / 2 < left_eye[0]
        assert max(right_eye[1], left_eye[1]) < side / 2
        assert max(right_eye[1], left_eye[1]) < points[NOSE_TIP, 1] < mouth_y < points[CHIN, 1]
        # The face fills most of a DFDC crop (median 74% on 400 crops).
        assert landmarks.hull_mask(points, side).mean() > 0.5


@requires_dfdc_faces
def test_a_mirrored_crop_gives_mirrored_mid_line_points(landmarker: FaceLandmarker, crops: list[np.ndarray]) -> None:
    errors = []
    for crop in crops:
        side = crop.shape[0]
        points = landmarker.landmarks(crop)
        mirrored = landmarker.landmarks(np.ascontiguousarray(crop[:, ::-1]))
        mirrored[:, 0] = side - mirrored[:, 0]
        errors.append(np.linalg.norm(points[MID_LINE] - mirrored[MID_LINE], axis=1).mean())
    # 3 px median on 150 crops with [0, 1] input and the 1.5x border (5 px without the border, more with [-1, 1]).
    assert np.mean(errors) < 6.0


def test_a_blank_image_has_no_trusted_face(landmarker: FaceLandmarker) -> None:
    _, presence = landmarker.landmarks_and_presence(np.full((224, 224, 3), 128, np.uint8))
    assert presence < landmarks.MIN_PRESENCE


@pytest.mark.parametrize(
    "crop",
    [
        np.zeros((224, 200, 3), np.uint8),
        np.zeros((224, 224), np.uint8),
        np.zeros((224, 224, 3), np.float32),
        np.zeros((0, 0, 3), np.uint8),
    ],
    ids=["not square", "grey", "float", "empty"],
)
def test_bad_crops_are_refused(landmarker: FaceLandmarker, crop: np.ndarray) -> None:
    with pytest.raises(ValueError):
        landmarker.landmarks(crop)


def test_a_closed_landmarker_refuses_work() -> None:
    model = FaceLandmarker(num_threads=1)
    model.close()
    with pytest.raises(RuntimeError):
        model.landmarks(np.zeros((64, 64, 3), np.uint8))


def test_hull_mask_fills_the_hull() -> None:
    square = np.array([[10, 10], [30, 10], [30, 30], [10, 30], [20, 20]], np.float32)
    mask = landmarks.hull_mask(square, 40)
    assert mask.dtype == np.uint8 and mask.shape == (40, 40)
    assert mask[10:31, 10:31].all() and mask.sum() == 21 * 21
    with pytest.raises(ValueError):
        landmarks.hull_mask(np.full((468, 2), np.nan, np.float32), 40)


@requires_dfdc_faces
def test_precompute_caches_and_marks_faceless_crops(tmp_path, monkeypatch, crops: list[np.ndarray]) -> None:
    images = np.stack([*crops[:2], np.full_like(crops[0], 128)])
    progress = []
    points = landmarks.precompute_landmarks(images, tmp_path, progress=lambda done, total: progress.append(done))
    assert points.shape == (3, 468, 2) and points.dtype == np.float16
    assert np.isfinite(points[:2]).all() and np.isnan(points[2]).all()
    assert progress == [3]
    assert len(list(tmp_path.glob("landmarks-3-*.npy"))) == 1

    class ModelLoaded(Exception):
        pass

    def refuse(*args: object, **kwargs: object) -> None:
        raise ModelLoaded

    # The same images again come from the cache without loading the model; other images are not in it.
    monkeypatch.setattr(landmarks, "FaceLandmarker", refuse)
    np.testing.assert_array_equal(landmarks.precompute_landmarks(images, tmp_path), points)
    with pytest.raises(ModelLoaded):
        landmarks.precompute_landmarks(images[::-1].copy(), tmp_path)


def test_precompute_refuses_a_single_image() -> None:
    with pytest.raises(ValueError):
        landmarks.precompute_landmarks(np.zeros((224, 224, 3), np.uint8))
