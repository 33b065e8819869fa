"""Mouth transplants: the similarity fit, a donor placed without a warp, only the region changed, and refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.training import datasets, mouth_transplant, reenactment
from detector.training.landmarks import FaceLandmarker

UTKFACE = datasets.shared_folder() / "data" / "utkface" / "faces"
requires_utkface = pytest.mark.skipif(
    not UTKFACE.is_dir(), reason=f"UTKFace photos not found at {UTKFACE} (set DETECTOR_SHARED)"
)
SIDE = 224
FACE_COUNT = 4
# Named mesh points of the eyes and brows, which a transplant of the mouth or lower face never reaches.
EYES_AND_BROWS = (33, 133, 159, 145, 263, 362, 386, 374, 70, 105, 107, 300, 334, 336)
Faces = list[tuple[np.ndarray, np.ndarray]]


def _similarity_matrix(angle_degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.deg2rad(angle_degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.column_stack([rotation, shift])


@pytest.fixture(scope="module")
def faces() -> Faces:
    """The first UTKFace photos ``(224, 224, 3) uint8 RGB`` with their meshes ``(468, 2) float16``, as training
    stores them."""
    photos = datasets.load_utkface()
    crops = datasets.decode_images(photos.root, photos.files[:FACE_COUNT], SIDE)
    result = []
    with FaceLandmarker(num_threads=1) as landmarker:
        for crop in crops:
            points, presence = landmarker.landmarks_and_presence(crop)
            assert presence > 0.9
            result.append((crop, points.astype(np.float16)))
    return result


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(0.0, 1.0, (0.0, 0.0)), (12.0, 1.3, (5.0, -7.0)), (-30.0, 0.7, (-20.0, 3.5))]
)
def test_the_similarity_fit_recovers_a_known_similarity(angle, scale, shift):
    points = np.random.default_rng(0).uniform(0, 200, (8, 2))
    matrix = _similarity_matrix(angle, scale, shift)
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mouth_transplant.similarity(points, moved), matrix, atol=1e-9)


def test_the_similarity_fit_never_reflects():
    points = np.random.default_rng(1).uniform(0, 200, (8, 2))
    mirrored = points * np.array([-1.0, 1.0])
    matrix = mouth_transplant.similarity(points, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (np.zeros((1, 2)), np.zeros((1, 2)), "N >= 2"),
        (np.zeros((3, 2)), np.zeros((4, 2)), "same shape"),
        (np.ones((4, 2)), np.zeros((4, 2)), "coincide"),
    ],
)
def test_the_similarity_fit_refuses_what_it_cannot_fit(source, target, message):
    with pytest.raises(ValueError, match=message):
        mouth_transplant.similarity(source, target)


@requires_utkface
@pytest.mark.parametrize("region", mouth_transplant.REGIONS)
def test_a_face_transplanted_into_itself_is_unchanged(faces: Faces, region: str):
    image, mesh = faces[0]
    fake, mask = mouth_transplant.transplant_with_mask(image, mesh, image, mesh, region)
    assert fake.shape == image.shape and fake.dtype == np.uint8
    assert np.abs(fake.astype(int) - image.astype(int)).max() <= 2
    assert mask.dtype == np.float32 and mask.max() == 1.0 and mask.min() == 0.0


@requires_utkface
def test_a_moved_copy_of_the_target_is_placed_back_without_a_warp(faces: Faces):
    # The donor is the target turned, scaled and shifted: placed by the fitted similarity it lands on the target.
    image, mesh = faces[1]
    matrix = _similarity_matrix(10.0, 0.85, (30.0, 10.0))
    donor = cv2.warpAffine(image, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    donor_mesh = mesh.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    fake, mask = mouth_transplant.transplant_with_mask(image, mesh, donor, donor_mesh, "lower_face")
    core = mask >= 0.5
    difference = np.abs(fake.astype(int) - image.astype(int)).max(axis=2)
    # Resampled twice (moved, then placed back): a few levels off on average, never a misplaced feature.
    assert difference[core].mean() < 6 and np.percentile(difference[core], 99) < 40


@requires_utkface
@pytest.mark.parametrize("region", mouth_transplant.REGIONS)
def test_another_faces_mouth_replaces_the_targets_and_nothing_else(faces: Faces, region: str):
    # These UTKFace people are all near-frontal: each fits every other (``donor_fit``).
    target, target_mesh = faces[2]
    for donor, donor_mesh in (faces[0], faces[3]):
        fake, mask = mouth_transplant.transplant_with_mask(target, target_mesh, donor, donor_mesh, region)
        points = target_mesh.astype(np.float64)
        # Outside the mask the fake is the target exactly, and the eyes and brows are outside it.
        np.testing.assert_array_equal(fake[mask == 0], target[mask == 0])
        eyes = np.round(points[list(EYES_AND_BROWS)]).astype(int)
        assert (mask[eyes[:, 1], eyes[:, 0]] == 0).all()
        # The target's own lips are covered, and what covers them is not the target.
        lips = np.round(points[list(reenactment.OUTER_LIPS)]).astype(int)
        assert (mask[lips[:, 1], lips[:, 0]] >= 0.5).all()
        core = mask >= 0.99
        assert np.abs(fake.astype(int) - target.astype(int)).max(axis=2)[core].mean() > 5


@requires_utkface
def test_the_lower_face_reaches_further_than_the_mouth(faces: Faces):
    target, mesh = faces[1]
    mouth = mouth_transplant.transplant_with_mask(target, mesh, target, mesh, "mouth")[1]
    lower_face = mouth_transplant.transplant_with_mask(target, mesh, target, mesh, "lower_face")[1]
    assert (lower_face >= 0.5).sum() > 1.5 * (mouth >= 0.5).sum()


@requires_utkface
def test_a_donor_of_another_pose_or_shape_is_refused(faces: Faces):
    image, mesh = faces[0]
    warped = mesh.astype(np.float64).copy()
    # One eye far from where the similarity can bring it: another face shape than any fit accepts.
    warped[[263, 362]] += np.array([40.0, 25.0])
    with pytest.raises(ValueError, match="does not fit"):
        mouth_transplant.transplant_with_mask(image, mesh, image, warped, "mouth")
    tiny = mesh.astype(np.float64) * 0.5
    with pytest.raises(ValueError, match="scaled by"):
        mouth_transplant.transplant_with_mask(image, mesh, image, tiny, "mouth")


@requires_utkface
def test_bad_input_is_refused(faces: Faces):
    image, mesh = faces[0]
    with pytest.raises(ValueError, match="region must be one of"):
        mouth_transplant.transplant_with_mask(image, mesh, image, mesh, "eyes")
    with pytest.raises(ValueError, match="same size"):
        small = cv2.resize(image, (112, 112))
        mouth_transplant.transplant_with_mask(image, mesh, small, mesh.astype(np.float64) / 2, "mouth")
    with pytest.raises(ValueError, match="468-point"):
        mouth_transplant.transplant_with_mask(image, mesh, image, mesh[:100], "mouth")


@requires_utkface
def test_the_inputs_are_not_modified(faces: Faces):
    target, target_mesh = faces[2]
    donor, donor_mesh = faces[1]
    copies = [array.copy() for array in (target, target_mesh, donor, donor_mesh)]
    mouth_transplant.transplant_with_mask(target, target_mesh, donor, donor_mesh, "lower_face")
    for array, copy in zip((target, target_mesh, donor, donor_mesh), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
