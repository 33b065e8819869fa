import cv2
import numpy as np
import pytest
from conftest import requires_shared
from scipy.spatial import Delaunay
from threadpoolctl import threadpool_info

from detector.training import datasets, face_swap, landmarks

SIDE = 96


def _grid_points(offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A 7x7 grid of points over the middle of a SIDE crop, moved by ``offset``: a stand-in for a face mesh."""
    values = np.linspace(20, SIDE - 20, 7)
    grid = np.array([(x, y) for y in values for x in values], dtype=np.float64)
    return grid + np.asarray(offset)


def _textured(seed: int) -> np.ndarray:
    """A smooth random picture ``(SIDE, SIDE, 3) uint8`` (smooth, so interpolation errors stay small)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def test_warping_onto_the_same_points_changes_nothing_and_marks_the_triangulated_area():
    source = _textured(0)
    warped, inside = face_swap.warp_to_points(source, _grid_points(), _grid_points())
    assert inside[SIDE // 2, SIDE // 2] and not inside[2, 2]
    assert np.abs(warped.astype(int) - source.astype(int))[inside].max() <= 1
    np.testing.assert_array_equal(warped[~inside], source[~inside])


def test_warping_onto_moved_points_moves_the_picture():
    source = _textured(1)
    warped, inside = face_swap.warp_to_points(source, _grid_points(), _grid_points((6.0, -4.0)))
    # Each target pixel (x, y) inside shows the source at (x - 6, y + 4).
    rows, columns = np.nonzero(inside)
    expected = source[rows + 4, columns - 6]
    assert np.abs(warped[rows, columns].astype(int) - expected.astype(int)).max() <= 2


def test_a_warp_locates_its_pixels_on_one_blas_thread(monkeypatch):
    # Locating pixels solves each triangle through LAPACK; OpenBLAS's threads crawled on busy cores (DESIGN).
    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    seen: list[set[int]] = []

    class Noted(Delaunay):
        def find_simplex(self, *arguments, **options):
            seen.append(blas_threads())
            return super().find_simplex(*arguments, **options)

    monkeypatch.setattr(face_swap, "Delaunay", Noted)
    before = blas_threads()
    face_swap.warp_to_points(_textured(2), _grid_points(), _grid_points((3.0, 2.0)))
    assert seen == [{1}]
    assert blas_threads() == before  # the limit ends with the warp


def test_colour_matching_gives_the_targets_mean_and_spread_inside_the_mask():
    source, target = _textured(2), np.clip(_textured(3).astype(int) // 2 + 100, 0, 255).astype(np.uint8)
    mask = np.zeros((SIDE, SIDE), bool)
    mask[20:70, 25:75] = True
    matched = face_swap.match_colour(source, target, mask)

    def lab(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[mask]

    np.testing.assert_allclose(lab(matched).mean(axis=0), lab(target).mean(axis=0), atol=1.0)
    np.testing.assert_allclose(lab(matched).std(axis=0), lab(target).std(axis=0), rtol=0.1, atol=0.5)
    with pytest.raises(ValueError, match="at least two pixels"):
        face_swap.match_colour(source, target, np.zeros((SIDE, SIDE), bool))


@pytest.mark.parametrize("blend", face_swap.BLENDS)
def test_a_swap_changes_the_face_and_leaves_the_rest_of_the_target(blend):
    target, source = _textured(4), _textured(5)
    points = _grid_points()
    swapped = face_swap.swap_faces(target, points, source, points + 1.0, blend=blend)
    mask = face_swap.swap_mask(points, np.ones((SIDE, SIDE), bool), SIDE)
    np.testing.assert_array_equal(swapped[~mask], target[~mask])
    centre = (slice(40, 56), slice(40, 56))
    assert np.abs(swapped[centre].astype(int) - target[centre].astype(int)).mean() > 5


def test_a_swap_refuses_bad_input():
    target, points = _textured(6), _grid_points()
    with pytest.raises(ValueError, match="blend must be one of"):
        face_swap.swap_faces(target, points, target, points, blend="morph")
    with pytest.raises(ValueError, match="same size"):
        face_swap.swap_faces(target, points, target[:64, :64], points)
    with pytest.raises(ValueError, match="finite"):
        face_swap.swap_faces(target, np.full_like(points, np.nan), target, points)
    tiny = np.array([[40.0, 40.0], [41.0, 40.0], [40.0, 41.0]])
    with pytest.raises(ValueError, match="no area to swap"):
        face_swap.swap_faces(target, tiny, target, tiny)


@requires_shared
@pytest.mark.parametrize("blend", face_swap.BLENDS)
def test_a_swap_of_two_real_faces_is_still_a_face_to_the_face_mesh(blend, tmp_path):
    photos = datasets.load_utkface()
    crops = datasets.decode_images(photos.root, photos.files[:2], 224, tmp_path)
    with landmarks.FaceLandmarker() as landmarker:
        meshes = [landmarker.landmarks(crop) for crop in crops]
        swapped = face_swap.swap_faces(crops[0], meshes[0], crops[1], meshes[1], blend=blend)
        points, presence = landmarker.landmarks_and_presence(swapped)
    assert presence > 0.5
    # The face is where the target's was (the mesh moved by a few pixels at most) but is not the target's.
    assert np.median(np.linalg.norm(points - meshes[0], axis=1)) < 6
    assert np.abs(swapped.astype(int) - crops[0].astype(int)).mean() > 3
