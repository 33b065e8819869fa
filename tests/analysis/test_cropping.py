"""Face crops: the square's placement, edge padding and resizing, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest

from detector.analysis import cropping
from detector.types import FaceBox

HEIGHT, WIDTH = 90, 120


def coordinate_image() -> np.ndarray:
    """``(90, 120, 3) uint8 RGB`` whose pixel at (y, x) is (x, y, 7): every value says where it came from."""
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([columns, rows, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def box(x: float, y: float, width: float, height: float) -> FaceBox:
    return FaceBox(x, y, width, height, confidence=0.9)


@pytest.mark.parametrize(
    ("face", "margin", "shift", "expected"),
    [
        (box(40, 30, 20, 30), 1.0, 0.0, (35, 30, 30)),  # centre (50, 45), side = larger box side
        (box(40, 30, 20, 30), 1.5, 0.0, (28, 23, 45)),  # 50 - 22.5 rounds half up to 28
        (box(40, 30, 20, 30), 1.5, 0.1, (28, 26, 45)),  # centre moved down by 0.1 * 30 = 3 px
        (box(40, 30, 20, 30), 1.5, -0.1, (28, 20, 45)),
        (box(-10, -10, 20, 20), 1.0, 0.0, (-10, -10, 20)),  # top-left corner, half off the frame
        (box(110, 80, 20, 20), 1.3, 0.0, (107, 77, 26)),  # bottom-right corner
        (box(50, 50, 0.4, 0.4), 1.0, 0.0, (50, 50, 1)),  # tiny: at least one pixel
        (box(-950, -950, 2000, 2000), 1.3, 0.0, (-1250, -1250, 2600)),  # huge, centred on (50, 50)
    ],
)
def test_square_box(face: FaceBox, margin: float, shift: float, expected: tuple[int, int, int]) -> None:
    assert cropping.square_box(face, margin, shift) == expected


@pytest.mark.parametrize(
    "face",
    [
        box(40, 30, 20, 30),  # inside the frame
        box(-10, -10, 20, 20),  # top-left corner
        box(110, 80, 20, 20),  # bottom-right corner
        box(-5, 40, 30, 30),  # left edge
        box(300, 300, 10, 10),  # entirely outside: every pixel repeats the nearest corner
    ],
    ids=["inside", "top-left", "bottom-right", "left-edge", "outside"],
)
@pytest.mark.parametrize("margin", [1.0, 1.3])
def test_crop_without_resizing_is_the_square_with_edges_repeated(face: FaceBox, margin: float) -> None:
    image = coordinate_image()
    x0, y0, side = cropping.square_box(face, margin)
    crop = cropping.crop_face(image, face, margin, size=side)
    # Independent reference: pad generously by edge replication, then slice.
    pad = 400
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    expected = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    np.testing.assert_array_equal(crop, expected)
    # Spot checks, by the coordinates each pixel carries.
    assert tuple(crop[0, 0]) == (min(max(x0, 0), WIDTH - 1), min(max(y0, 0), HEIGHT - 1), 7)
    last_x, last_y = x0 + side - 1, y0 + side - 1
    assert tuple(crop[-1, -1]) == (min(max(last_x, 0), WIDTH - 1), min(max(last_y, 0), HEIGHT - 1), 7)


def test_crop_inside_the_frame_pixel_for_pixel() -> None:
    crop = cropping.crop_face(coordinate_image(), box(40, 30, 20, 30), 1.0, size=30)
    assert crop.shape == (30, 30, 3)
    assert tuple(crop[0, 0]) == (35, 30, 7)
    assert tuple(crop[29, 0]) == (35, 59, 7)
    assert tuple(crop[0, 29]) == (64, 30, 7)
    assert tuple(crop[12, 5]) == (40, 42, 7)


def test_tiny_box_becomes_a_uniform_crop_of_its_pixel() -> None:
    crop = cropping.crop_face(coordinate_image(), box(50, 50, 0.4, 0.4), 1.0, size=8)
    assert crop.shape == (8, 8, 3)
    assert (crop == np.array([50, 50, 7], dtype=np.uint8)).all()


def test_huge_box_keeps_the_frame_in_the_middle_and_repeats_its_edges() -> None:
    image = coordinate_image()
    crop = cropping.crop_face(image, box(-950, -950, 2000, 2000), 1.3, size=65)
    assert crop.shape == (65, 65, 3)
    # Each output pixel averages 40 x 40 source pixels; the corner ones see only the repeated frame corners.
    assert tuple(crop[0, 0]) == (0, 0, 7)
    assert tuple(crop[0, -1]) == (WIDTH - 1, 0, 7)
    assert tuple(crop[-1, -1]) == (WIDTH - 1, HEIGHT - 1, 7)


def test_shrinking_averages_instead_of_aliasing() -> None:
    # One bright column in four, shrunk fourfold: area averaging gives a flat 255 / 4; bilinear or nearest
    # sampling would land between or on the dark columns and lose the lines (0) or keep only them (255).
    columns = np.arange(64)
    lines = np.where(columns % 4 == 0, 255, 0).astype(np.uint8)
    image = np.repeat(np.tile(lines, (64, 1))[:, :, None], 3, axis=2)
    crop = cropping.crop_face(image, box(0, 0, 64, 64), 1.0, size=16)
    assert crop.shape == (16, 16, 3)
    assert set(np.unique(crop).tolist()) <= {63, 64}


def test_enlarging_does_not_overshoot_edges() -> None:
    # A step from 50 to 200 enlarged eightfold: bilinear stays within [50, 200] and rises monotonically.
    image = np.full((16, 16, 3), 50, dtype=np.uint8)
    image[:, 8:] = 200
    crop = cropping.crop_face(image, box(4, 4, 8, 8), 1.0, size=64)
    assert crop.min() == 50 and crop.max() == 200
    assert (np.diff(crop[32, :, 0].astype(int)) >= 0).all()


@pytest.mark.parametrize("size", [None, 224])
def test_crop_is_a_new_contiguous_uint8_array(size: int | None) -> None:
    image = coordinate_image()
    face = box(40, 30, 20, 30)
    size = size or cropping.square_box(face, 1.0)[2]
    crop = cropping.crop_face(image, face, 1.0, size=size)
    assert crop.dtype == np.uint8 and crop.flags.c_contiguous
    assert crop.shape == (size, size, 3)
    assert not np.shares_memory(crop, image)


@pytest.mark.parametrize(
    ("image", "margin", "size", "message"),
    [
        (np.zeros((10, 10), dtype=np.uint8), 1.0, 8, r"\(H, W, 3\) uint8"),
        (np.zeros((10, 10, 3), dtype=np.float32), 1.0, 8, r"\(H, W, 3\) uint8"),
        (np.zeros((0, 10, 3), dtype=np.uint8), 1.0, 8, "empty"),
        (np.zeros((10, 10, 3), dtype=np.uint8), 1.0, 0, "size"),
        (np.zeros((10, 10, 3), dtype=np.uint8), 0.0, 8, "margin"),
        (np.zeros((10, 10, 3), dtype=np.uint8), float("nan"), 8, "margin"),
    ],
)
def test_bad_arguments_are_refused(image: np.ndarray, margin: float, size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cropping.crop_face(image, box(2, 2, 4, 4), margin, size)
