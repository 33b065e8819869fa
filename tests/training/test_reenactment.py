"""Reenactment proxies on real faces: only the mouth or lower face changes, the lips really part, repeatable,
and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from detector.training import datasets, reenactment
from detector.training.landmarks import FaceLandmarker
from detector.training.reenactment import Expression

UTKFACE = datasets.shared_folder() / "data" / "utkface" / "faces"
requires_utkface = pytest.mark.skipif(
    not UTKFACE.is_dir(), reason=f"UTKFace photos not found at {UTKFACE} (set DETECTOR_SHARED)"
)
SIDE = 224
FACE_COUNT = 4
SEEDS = (0, 1)
# Named mesh points (MediaPipe's topology) of the upper face, which no expression may move.
UPPER_FACE = (33, 133, 159, 145, 263, 362, 386, 374, 70, 105, 107, 300, 334, 336, 1, 4, 6, 168, 197, 10, 151, 9)
# Changes smaller than this (0-255) are rounding of the identity warp, not a moved face.
VISIBLE = 10
Faces = list[tuple[np.ndarray, np.ndarray]]
Fakes = dict[tuple[int, str, int], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    with FaceLandmarker(num_threads=1) as model:
        yield model


@pytest.fixture(scope="module")
def faces(landmarker: FaceLandmarker) -> Faces:
    """The first UTKFace photos ``(224, 224, 3) uint8 RGB`` with their meshes ``(468, 2) float16``, stored as
    ``precompute_landmarks`` stores them. Three have a closed mouth, one an open smile with teeth."""
    photos = datasets.load_utkface()
    crops = datasets.decode_images(photos.root, photos.files[:FACE_COUNT], SIDE)
    result = []
    for crop in crops:
        points, presence = landmarker.landmarks_and_presence(crop)
        assert presence > 0.9
        result.append((crop, points.astype(np.float16)))
    return result


@pytest.fixture(scope="module")
def fakes(faces: Faces) -> Fakes:
    """``(face, region, seed)``: the fake and its mask, made once for the tests that only look at them."""
    return {
        (index, region, seed): reenactment.reenact_with_mask(image, mesh, np.random.default_rng(seed), region)
        for index, (image, mesh) in enumerate(faces)
        for region in reenactment.REGIONS
        for seed in SEEDS
    }


def _changed(fake: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``(S, S) int``: the largest channel difference of each pixel."""
    return np.abs(fake.astype(int) - image.astype(int)).max(axis=2)


@requires_utkface
def test_the_fake_is_a_crop_and_the_mask_a_soft_weight(faces: Faces, fakes: Fakes) -> None:
    for (index, _, _), (fake, mask) in fakes.items():
        image = faces[index][0]
        assert fake.shape == image.shape and fake.dtype == np.uint8
        assert mask.shape == image.shape[:2] and mask.dtype == np.float32
        assert mask.min() == 0.0 and mask.max() == 1.0
        # A core blended fully and an edge strictly between.
        assert (mask == 1.0).sum() > 1000 and ((mask > 0) & (mask < 1)).sum() > 2 * SIDE


@requires_utkface
def test_only_masked_pixels_change_and_the_upper_face_never(faces: Faces, fakes: Fakes) -> None:
    for (index, region, seed), (fake, mask) in fakes.items():
        image, mesh = faces[index]
        points = mesh.astype(np.float64)
        outside = mask == 0
        np.testing.assert_array_equal(fake[outside], image[outside], err_msg=f"face {index} {region} {seed}")
        assert (_changed(fake, image)[~outside] >= VISIBLE).sum() > 500
        # Everything above halfway from the eyes to the nose tip is untouched: the eyes, brows, forehead and hair.
        eye_level = (points[reenactment.RIGHT_EYE_OUTER, 1] + points[reenactment.LEFT_EYE_OUTER, 1]) / 2
        top = int((eye_level + points[reenactment.NOSE_TIP, 1]) / 2)
        assert not mask[:top].any()
        np.testing.assert_array_equal(fake[:top], image[:top])


@requires_utkface
def test_the_visible_change_lies_below_the_nose_tip(faces: Faces, fakes: Fakes) -> None:
    for (index, region, seed), (fake, _) in fakes.items():
        image, mesh = faces[index]
        rows = np.nonzero(_changed(fake, image) >= VISIBLE)[0]
        below = (rows > float(mesh[reenactment.NOSE_TIP, 1])).mean()
        assert below > 0.98, f"face {index} {region} seed {seed}: {below:.3f} of the change below the nose tip"


@requires_utkface
def test_the_mouth_region_changes_less_than_the_lower_face(faces: Faces, fakes: Fakes) -> None:
    for index, (image, _) in enumerate(faces):

        def total(region: str, index: int = index, image: np.ndarray = image) -> tuple[int, int]:
            pairs = [fakes[(index, region, seed)] for seed in SEEDS]
            changed = sum(int((_changed(fake, image) >= VISIBLE).sum()) for fake, _ in pairs)
            return changed, sum(int((mask > 0).sum()) for _, mask in pairs)

        mouth_changed, mouth_area = total("mouth")
        lower_changed, lower_area = total("lower_face")
        assert mouth_changed < lower_changed and mouth_area < lower_area


@requires_utkface
def test_the_same_seed_gives_the_same_fake_and_another_seed_another(faces: Faces) -> None:
    image, mesh = faces[0]
    first = reenactment.reenact(image, mesh, np.random.default_rng(3))
    again = reenactment.reenact(image, mesh, np.random.default_rng(3))
    other = reenactment.reenact(image, mesh, np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert (_changed(first, other) >= VISIBLE).sum() > 100


@requires_utkface
def test_without_a_region_both_are_drawn(faces: Faces) -> None:
    image, mesh = faces[3]
    chin = np.round(mesh[reenactment.CHIN].astype(np.float64)).astype(int)
    assert (chin >= 0).all() and (chin < SIDE).all()

    def covers_the_chin(mask: np.ndarray) -> bool:
        return bool(mask[chin[1], chin[0]] > 0.5)

    # The chin tells the regions apart: only the lower face covers it.
    for seed in SEEDS:
        assert not covers_the_chin(reenactment.reenact_with_mask(image, mesh, np.random.default_rng(seed), "mouth")[1])
        assert covers_the_chin(reenactment.reenact_with_mask(image, mesh, np.random.default_rng(seed), "lower_face")[1])
    drawn = [
        covers_the_chin(reenactment.reenact_with_mask(image, mesh, np.random.default_rng(seed))[1])
        for seed in range(10)
    ]
    assert 0 < sum(drawn) < len(drawn)


@requires_utkface
@pytest.mark.parametrize(("region", "opening"), [("mouth", 0.2), ("lower_face", 0.3)])
def test_opening_the_mouth_parts_the_lips_to_the_face_mesh(
    faces: Faces, landmarker: FaceLandmarker, region: str, opening: float
) -> None:
    closed = [(image, mesh) for image, mesh in faces if reenactment.mouth_gap(mesh) <= 0.05]
    # An open mouth's mesh is less sure; the closed ones are enough.
    assert len(closed) >= 2
    for image, mesh in closed:
        points = mesh.astype(np.float64)
        width = float(np.linalg.norm(points[291] - points[61]))
        fake, _ = reenactment.apply_expression(image, mesh, region, Expression(opening=opening, smile=0.0))
        found = landmarker.landmarks(fake).astype(np.float64)
        before = points[reenactment.LOWER_LIP_INNER, 1] - points[reenactment.UPPER_LIP_INNER, 1]
        after = found[reenactment.LOWER_LIP_INNER, 1] - found[reenactment.UPPER_LIP_INNER, 1]
        # The mesh finds 36-79% of the opening (it fits a whole face, and the inside is only darkened).
        assert after - before > 0.25 * opening * width


@requires_utkface
def test_no_expression_change_leaves_the_crop(faces: Faces) -> None:
    image, mesh = faces[3]
    for region in reenactment.REGIONS:
        fake, mask = reenactment.apply_expression(image, mesh, region, Expression(opening=0.0, smile=0.0))
        assert mask.any() and _changed(fake, image).max() <= 1


@requires_utkface
@pytest.mark.parametrize("region", reenactment.REGIONS)
def test_the_mesh_moves_as_the_expression_says(faces: Faces, region: str) -> None:
    points = faces[3][1].astype(np.float64)
    width = float(np.linalg.norm(points[291] - points[61]))
    lower_lip, upper_lip, chin = reenactment.LOWER_LIP_INNER, reenactment.UPPER_LIP_INNER, reenactment.CHIN

    opened = reenactment.moved_mesh(points, region, Expression(opening=0.2, smile=0.0))
    np.testing.assert_array_equal(opened[list(UPPER_FACE)], points[list(UPPER_FACE)])
    np.testing.assert_array_equal(opened[upper_lip], points[upper_lip])
    # The middle of the lower lip takes (nearly) the whole opening, down the face.
    assert opened[lower_lip, 1] - points[lower_lip, 1] == pytest.approx(0.2 * width, rel=0.1)
    if region == "mouth":
        np.testing.assert_array_equal(opened[list(reenactment.JAW)], points[list(reenactment.JAW)])
    else:
        assert opened[chin, 1] - points[chin, 1] == pytest.approx(0.2 * width, rel=0.1)

    shifted = reenactment.moved_mesh(points, region, Expression(opening=0.0, smile=0.0, jaw_shift=0.08))
    expected_shift = 0.08 * width if region == "lower_face" else 0.0
    assert shifted[lower_lip, 0] - points[lower_lip, 0] == pytest.approx(expected_shift, abs=0.01 * width)

    smiling = reenactment.moved_mesh(points, region, Expression(opening=0.0, smile=0.1))
    right, left = reenactment.MOUTH_CORNERS
    assert smiling[right, 0] < points[right, 0] and smiling[left, 0] > points[left, 0]
    assert smiling[right, 1] < points[right, 1] and smiling[left, 1] < points[left, 1]
    np.testing.assert_array_equal(smiling[list(UPPER_FACE)], points[list(UPPER_FACE)])


@pytest.mark.parametrize("seed", range(20))
def test_drawn_expressions_stay_in_their_ranges(seed: int) -> None:
    for region in reenactment.REGIONS:
        closed = reenactment.draw_expression(region, 0.0, np.random.default_rng(seed))
        low, high = reenactment.OPENING[region]
        assert low <= closed.opening <= high
        assert reenactment.SMILE[0] <= closed.smile <= reenactment.SMILE[1]
        assert abs(closed.jaw_shift) <= reenactment.JAW_SHIFT and (region == "lower_face" or closed.jaw_shift == 0)
        # An open mouth may instead close, never by more than its gap.
        gap = 0.2
        either = reenactment.draw_expression(region, gap, np.random.default_rng(seed))
        assert low <= either.opening <= high or -0.9 * gap <= either.opening <= -0.5 * gap


def test_an_open_mouth_is_sometimes_closed() -> None:
    openings = [reenactment.draw_expression("mouth", 0.2, np.random.default_rng(seed)).opening for seed in range(40)]
    assert 0.25 < np.mean(np.array(openings) < 0) < 0.75


@requires_utkface
def test_the_input_is_not_modified(faces: Faces) -> None:
    image, mesh = faces[0]
    image_copy, mesh_copy = image.copy(), mesh.copy()
    reenactment.reenact(image, mesh, np.random.default_rng(0))
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(mesh, mesh_copy)


MESH = np.zeros((468, 2), np.float32)
IMAGE = np.zeros((64, 64, 3), np.uint8)


@pytest.mark.parametrize(
    ("image", "mesh", "region", "message"),
    [
        (IMAGE.astype(np.float32), MESH, None, "uint8"),
        (IMAGE[:, :32], MESH, None, "square"),
        (IMAGE[..., 0], MESH, None, "square"),
        (IMAGE, np.zeros((468, 3), np.float32), None, r"finite \(N, 2\)"),
        (IMAGE, np.zeros((68, 2), np.float32), None, "468-point"),
        (IMAGE, np.full((468, 2), np.nan, np.float32), None, "finite"),
        (IMAGE, MESH, "eyes", "region must be one of"),
        (IMAGE, MESH, None, "not a face mesh"),
    ],
)
def test_bad_input_is_refused(image: np.ndarray, mesh: np.ndarray, region: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reenactment.reenact(image, mesh, np.random.default_rng(0), region)


@pytest.mark.parametrize(
    "arguments",
    [
        {"opening": 1.5, "smile": 0.0},
        {"opening": float("nan"), "smile": 0.0},
        {"opening": 0.1, "smile": 0.0, "interior_darkness": 2.0},
    ],
)
def test_an_impossible_expression_is_refused(arguments: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        Expression(**arguments)
