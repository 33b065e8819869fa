"""Filming a still photo as a short video: a virtual camera's slow pan and zoom, a hand's shake, sensor noise.

``detector.evaluation.benchmark_clips`` makes test videos of people we only have photos of. A photo held still
would be no test of the video path: the tracker would see one face in one place, and the encoder would predict
every frame after the first for free. So the photo is placed on a larger frame (``draw_layout``), its face the size
faces have in phone and webcam videos, on a background that continues its own border (``scene_background``), and
filmed (``camera_matrices``, ``film``):

- an eased pan and zoom across the still ("Ken Burns"), slow (a few per cent over the clip) and still at both ends,
  as a filmed move is;
- a small smooth shake (a pixel or two, a fraction of a degree of roll) from a few low-frequency sines;
- grey sensor noise that changes every frame.

The background is the photo's border stretched outward (edge replication), strongly blurred, with a faint slow
texture and a fine grain: it continues the photo's colours and holds no second face (a blurred, enlarged copy of
the photo would hold a giant blurred face for the detector to find). The photo fades into it over a soft edge.
Everything is drawn from a ``numpy.random.Generator`` or a seed, so a seeded clip is repeatable, and a real photo and
its fake filmed with one ``Layout``, texture and noise seed differ only where the photos differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

# (width, height) of the clips: landscape and portrait, as webcams and phones film.
FRAME_SIZES = ((640, 480), (480, 640))
# The face's size (the mesh's larger extent) in frame pixels before the camera zooms in by ZOOM: 140-236 px on screen.
FACE_SIZE = (140.0, 200.0)
# The photo never takes more of the frame's shorter side than this.
MAX_PHOTO_SHARE = 0.9
ZOOM = (1.02, 1.18)
# The share of the pan that keeps the view inside the frame which the camera may use: the rest is the shake's room.
PAN_SHARE = 0.8
# The shake: each of x, y and roll is the mean of two sines of these frequencies, times these amplitudes.
SHAKE_HERTZ = (0.4, 2.0)
SHAKE_PIXELS = 1.5
SHAKE_DEGREES = 0.4
# Fractions of the photo's side: the soft edge over which it fades into the background, and the background's blur.
FEATHER = 0.06
BACKGROUND_BLUR = 0.4
# Standard deviations (0-255 units) of the background's slow blotches and of its fine grain.
TEXTURE = 8.0
GRAIN = 2.0
# The grey sensor noise that changes every frame, as a camera's does: whole levels drawn evenly from -SENSOR_NOISE to
# SENSOR_NOISE (standard deviation 1.4 levels for 2). Without it a filmed still is a picture the encoder predicts
# almost for free after the first frame. Uniform integers, not Gaussian floats: a quarter of the cost per frame.
SENSOR_NOISE = 2


@dataclass(frozen=True)
class Layout:
    """How a photo is filmed: the frame's size, where the scaled photo lies in it, and the camera's path.

    The photo, scaled to ``side`` pixels, has its top-left corner at (``left``, ``top``). The camera zooms from
    ``zooms[0]`` to ``zooms[1]`` and its view's centre moves from ``offsets[0]`` to ``offsets[1]`` (x, y pixels from
    the frame's centre); ``shake_hertz`` and ``shake_phases`` are ``(3, 2)`` tuples: two sines each for x, y, roll.
    """

    width: int
    height: int
    side: int
    left: int
    top: int
    zooms: tuple[float, float]
    offsets: tuple[tuple[float, float], tuple[float, float]]
    shake_hertz: tuple[tuple[float, ...], ...]
    shake_phases: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if not (0 <= self.left <= self.width - self.side and 0 <= self.top <= self.height - self.side):
            raise ValueError(f"the {self.side} px photo at ({self.left}, {self.top}) leaves the frame")
        if min(self.zooms) < 1.0:
            raise ValueError(f"the camera must zoom in (zooms >= 1), got {self.zooms}")


def draw_layout(photo_side: int, face_size: float, rng: np.random.Generator) -> Layout:
    """A random ``Layout`` for a square photo of ``photo_side`` pixels whose face is ``face_size`` pixels across.

    The frame is one of ``FRAME_SIZES``; the photo is scaled so that the face is within ``FACE_SIZE`` pixels, unless
    the photo would then take more than ``MAX_PHOTO_SHARE`` of the frame's shorter side.
    """
    if not (photo_side > 0 and face_size > 0):
        raise ValueError(f"photo_side and face_size must be positive, got {photo_side} and {face_size}")
    width, height = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    scale = min(rng.uniform(*FACE_SIZE) / face_size, MAX_PHOTO_SHARE * min(width, height) / photo_side)
    side = round(photo_side * scale)
    # A little off-centre and a little high, as people frame a face.
    left = round(width / 2 + rng.uniform(-0.08, 0.08) * width - side / 2)
    top = round(0.45 * height + rng.uniform(-0.05, 0.05) * height - side / 2)
    zooms = rng.uniform(*ZOOM, size=2)
    offsets = [
        tuple(rng.uniform(-1.0, 1.0, size=2) * PAN_SHARE * np.array([width, height]) / 2 * (1 - 1 / zoom))
        for zoom in zooms
    ]
    return Layout(
        width=width,
        height=height,
        side=side,
        left=int(np.clip(left, 0, width - side)),
        top=int(np.clip(top, 0, height - side)),
        zooms=(float(zooms[0]), float(zooms[1])),
        offsets=tuple(tuple(float(value) for value in offset) for offset in offsets),
        shake_hertz=tuple(map(tuple, rng.uniform(*SHAKE_HERTZ, size=(3, 2)).tolist())),
        shake_phases=tuple(map(tuple, rng.uniform(0.0, 2 * math.pi, size=(3, 2)).tolist())),
    )


def camera_matrices(layout: Layout, frame_count: int, fps: float) -> np.ndarray:
    """The camera's ``(frame_count, 2, 3) float64`` affine maps from the still scene to each frame.

    Zoom and pan follow a smoothstep from the layout's start to its end (still at both ends, as a filmed move);
    the shake is added on top. While the pan stays within ``PAN_SHARE`` of what the zoom allows, which the
    smoothstep keeps it to (the allowed pan grows with the zoom and is concave in it), the view stays inside the
    scene but for the shake's pixel or two.
    """
    if frame_count < 1 or not fps > 0:
        raise ValueError(f"need at least one frame and a positive fps, got {frame_count} and {fps}")
    progress = np.linspace(0.0, 1.0, frame_count) if frame_count > 1 else np.zeros(1)
    eased = progress * progress * (3.0 - 2.0 * progress)
    zoom = layout.zooms[0] + (layout.zooms[1] - layout.zooms[0]) * eased
    start, end = np.asarray(layout.offsets[0]), np.asarray(layout.offsets[1])
    times = np.arange(frame_count) / fps
    phases = 2 * math.pi * np.asarray(layout.shake_hertz) * times[:, None, None] + np.asarray(layout.shake_phases)
    shake = np.sin(phases).mean(axis=2)
    centre = np.array([layout.width / 2, layout.height / 2]) + start + (end - start) * eased[:, None]
    centre = centre + SHAKE_PIXELS * shake[:, :2]
    angle = np.radians(SHAKE_DEGREES * shake[:, 2])
    rotation = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], axis=1).reshape(-1, 2, 2)
    linear = zoom[:, None, None] * rotation
    # frame = linear @ (scene - centre) + frame centre
    translation = np.array([layout.width / 2, layout.height / 2]) - np.einsum("tij,tj->ti", linear, centre)
    return np.concatenate([linear, translation[:, :, None]], axis=2)


def draw_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(height, width, 3) float32`` zero-mean texture: slow blotches (mostly of brightness), fine grey grain."""
    blotches = rng.normal(0.0, TEXTURE, (5, 7, 1)) + rng.normal(0.0, TEXTURE / 4, (5, 7, 3))
    slow = cv2.resize(blotches.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, GRAIN, (height, width, 1)).astype(np.float32)
    return slow + grain


def _scaled(photo: np.ndarray, side: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if side < photo.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(photo, (side, side), interpolation=interpolation)


def scene_background(photo: np.ndarray, layout: Layout, texture: np.ndarray) -> np.ndarray:
    """The ``(H, W, 3) uint8 RGB`` frame around the photo: its border stretched outward, blurred, plus ``texture``.

    ``photo`` is ``(S, S, 3) uint8 RGB``; made from the real photo, the same background serves its fake.
    """
    scaled = _scaled(photo, layout.side)
    right, bottom = layout.width - layout.left - layout.side, layout.height - layout.top - layout.side
    canvas = cv2.copyMakeBorder(scaled, layout.top, bottom, layout.left, right, cv2.BORDER_REPLICATE)
    # A blur this wide is the same at an eighth of the size, and 64 times cheaper.
    small = cv2.resize(canvas, (layout.width // 8, layout.height // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=BACKGROUND_BLUR * layout.side / 8)
    blurred = cv2.resize(small, (layout.width, layout.height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return np.clip(np.rint(blurred + texture), 0, 255).astype(np.uint8)


def feather_mask(side: int) -> np.ndarray:
    """``(side, side) float32`` weights: 1 inside, falling smoothly to 0 over ``FEATHER`` of the side at the edges."""
    coordinates = np.arange(side, dtype=np.float32) + 0.5
    to_edge = np.minimum(coordinates, side - coordinates)
    ramp = np.clip(np.minimum(to_edge[:, None], to_edge[None, :]) / max(FEATHER * side, 1.0), 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def compose_scene(photo: np.ndarray, layout: Layout, background: np.ndarray) -> np.ndarray:
    """The still ``(H, W, 3) uint8 RGB`` scene: ``photo`` (``(S, S, 3) uint8 RGB``) scaled and faded onto
    ``background`` (``scene_background``) where ``layout`` puts it."""
    scaled = _scaled(photo, layout.side).astype(np.float32)
    weight = feather_mask(layout.side)[..., np.newaxis]
    rows = slice(layout.top, layout.top + layout.side)
    columns = slice(layout.left, layout.left + layout.side)
    scene = background.copy()
    scene[rows, columns] = np.clip(np.rint(weight * scaled + (1 - weight) * background[rows, columns]), 0, 255)
    return scene


def film(scene: np.ndarray, matrices: np.ndarray, noise_seed: int) -> Iterator[np.ndarray]:
    """The frames ``(H, W, 3) uint8 RGB`` of ``scene`` seen through each of ``camera_matrices``' maps, each with
    its own ``SENSOR_NOISE``, drawn from ``noise_seed`` and the frame's index (the same noise for a real and fake)."""
    height, width = scene.shape[:2]
    for index, matrix in enumerate(matrices):
        frame = cv2.warpAffine(
            scene, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        noise = np.random.default_rng([noise_seed, index]).integers(
            -SENSOR_NOISE, SENSOR_NOISE + 1, (height, width, 1), dtype=np.int16
        )
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def frame_count(seconds: float, fps: int) -> int:
    """Frames in a clip of ``seconds`` at ``fps``; ``ValueError`` unless there is at least one."""
    if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    if not (math.isfinite(seconds) and seconds > 0) or round(seconds * fps) < 1:
        raise ValueError(f"seconds must be positive and give at least one frame at {fps} fps, got {seconds}")
    return round(seconds * fps)
