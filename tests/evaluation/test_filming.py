"""``detector.evaluation.filming``: a still filmed by a slow camera that stays inside the scene, moves smoothly, and
puts the photo where the layout says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.evaluation import filming

FPS = 25


def corners_in_scene(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame's four corners ``(4, 2)`` mapped back into the scene by the inverse of ``matrix``."""
    linear, translation = matrix[:, :2], matrix[:, 2]
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64)
    return (corners - translation) @ np.linalg.inv(linear).T


@pytest.mark.parametrize("seed", range(40))
def test_the_camera_stays_inside_the_scene_and_moves_slowly(seed):
    layout = filming.draw_layout(224, 200.0, np.random.default_rng(seed))
    matrices = filming.camera_matrices(layout, 60, FPS)
    assert matrices.shape == (60, 2, 3)
    for matrix in matrices:
        corners = corners_in_scene(matrix, layout.width, layout.height)
        # Inside but for the shake's pixel or two (the frame is filled by reflection there).
        assert corners[:, 0].min() > -3 and corners[:, 0].max() < layout.width + 3
        assert corners[:, 1].min() > -3 and corners[:, 1].max() < layout.height + 3
    # Where the photo's centre lands in each frame: it moves, slowly and without jumps.
    centre = np.array([layout.left + layout.side / 2, layout.top + layout.side / 2, 1.0])
    path = matrices @ centre
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.max() < 4.0
    assert np.linalg.norm(path[-1] - path[0]) > 0.5 or abs(layout.zooms[1] - layout.zooms[0]) < 0.02


def test_the_zoom_runs_from_the_layouts_start_to_its_end_and_eases_in_and_out():
    layout = filming.draw_layout(224, 200.0, np.random.default_rng(3))
    matrices = filming.camera_matrices(layout, 61, FPS)
    zoom = np.sqrt(np.abs(np.linalg.det(matrices[:, :, :2])))
    assert zoom[0] == pytest.approx(layout.zooms[0], abs=1e-9)
    assert zoom[-1] == pytest.approx(layout.zooms[1], abs=1e-9)
    change = np.abs(np.diff(zoom))
    assert change[0] < change[30] / 10 and change[-1] < change[30] / 10


@pytest.mark.parametrize("face_size", [60.0, 200.0, 230.0])
def test_the_layout_sizes_the_face_as_in_a_video_and_keeps_the_photo_in_the_frame(face_size):
    for seed in range(20):
        layout = filming.draw_layout(224, face_size, np.random.default_rng(seed))
        assert (layout.width, layout.height) in filming.FRAME_SIZES
        on_screen = face_size * layout.side / 224
        largest_photo = filming.MAX_PHOTO_SHARE * min(layout.width, layout.height)
        assert filming.FACE_SIZE[0] - 1 <= on_screen <= filming.FACE_SIZE[1] + 1 or layout.side >= largest_photo - 1
        assert 0 <= layout.left <= layout.width - layout.side and 0 <= layout.top <= layout.height - layout.side
        assert min(layout.zooms) >= 1.0 and max(layout.zooms) <= filming.ZOOM[1]


def test_the_scene_is_the_photo_inside_and_the_background_at_its_edge():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (224, 224, 3)).astype(np.uint8)
    layout = filming.Layout(
        640, 480, 224, 100, 120, (1.05, 1.1), ((0.0, 0.0), (5.0, 3.0)), ((1.0,) * 2,) * 3, ((0.0,) * 2,) * 3
    )
    background = filming.scene_background(photo, layout, filming.draw_texture(480, 640, rng))
    scene = filming.compose_scene(photo, layout, background)
    assert scene.shape == (480, 640, 3) and scene.dtype == np.uint8
    margin = math.ceil(filming.FEATHER * 224)
    inner = (slice(120 + margin, 120 + 224 - margin), slice(100 + margin, 100 + 224 - margin))
    np.testing.assert_array_equal(scene[inner], photo[margin:-margin, margin:-margin])
    np.testing.assert_array_equal(scene[:120], background[:120])
    # The photo's outermost pixel row is (almost) all background: it fades in.
    assert np.abs(scene[120, 100:324].astype(int) - background[120, 100:324].astype(int)).max() <= 1


def test_the_background_continues_the_photos_border_and_is_smooth():
    photo = np.zeros((224, 224, 3), np.uint8)
    photo[:, :112] = (200, 40, 40)
    photo[:, 112:] = (40, 40, 200)
    layout = filming.Layout(
        640, 480, 224, 208, 128, (1.05, 1.1), ((0.0, 0.0),) * 2, ((1.0,) * 2,) * 3, ((0.0,) * 2,) * 3
    )
    no_texture = np.zeros((480, 640, 3), np.float32)
    background = filming.scene_background(photo, layout, no_texture).astype(int)
    # Red continues to the left of the photo, blue to its right.
    assert background[240, 20, 0] > background[240, 20, 2] + 60
    assert background[240, 620, 2] > background[240, 620, 0] + 60
    assert np.abs(np.diff(background, axis=1)).max() <= 8


def test_filming_yields_one_noisy_frame_per_map_the_same_for_the_same_seed():
    layout = filming.draw_layout(224, 200.0, np.random.default_rng(1))
    scene = np.full((layout.height, layout.width, 3), 128, np.uint8)
    matrices = filming.camera_matrices(layout, 5, FPS)
    frames = list(filming.film(scene, matrices, noise_seed=7))
    assert len(frames) == 5 and frames[0].shape == scene.shape and frames[0].dtype == np.uint8
    noise = frames[0].astype(float) - 128
    assert noise.std() == pytest.approx(np.sqrt(filming.SENSOR_NOISE * (filming.SENSOR_NOISE + 1) / 3), rel=0.05)
    assert np.abs(noise).max() == filming.SENSOR_NOISE
    assert not np.array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frames[3], list(filming.film(scene, matrices, noise_seed=7))[3])


def test_frame_count_and_bad_arguments():
    assert filming.frame_count(2.4, 25) == 60
    assert filming.frame_count(0.04, 25) == 1
    for seconds, fps in [(0.0, 25), (0.01, 25), (float("nan"), 25), (1.0, 0), (1.0, 25.0), (1.0, True)]:
        with pytest.raises(ValueError):
            filming.frame_count(seconds, fps)
    with pytest.raises(ValueError, match="positive"):
        filming.draw_layout(224, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least one frame"):
        filming.camera_matrices(filming.draw_layout(224, 200.0, np.random.default_rng(0)), 0, FPS)
    with pytest.raises(ValueError, match="leaves the frame"):
        filming.Layout(640, 480, 224, 500, 0, (1.05, 1.1), ((0.0, 0.0),) * 2, ((1.0,) * 2,) * 3, ((0.0,) * 2,) * 3)
