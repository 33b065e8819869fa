"""Real and fake *videos* of people no model here was trained on, to measure the whole verdict path.

The crop-level sets (``scripts/face_swap_labels.py``) score one face crop at a time; the verdict a user sees comes
from much more: frames sampled from a video, faces found and tracked, scores aggregated, thresholds. We have no
videos of many unseen people, so the clips are made here from their photos:

- **People**: the held-out quarter of UTKFace (``datasets.split_utkface``) or the real crops of the DFDC validation
  split (``datasets.split_by_group``); no model trains on either. They are taken in a seeded random order; a photo
  whose face mesh is not trusted (``landmarks.precompute_landmarks`` gives NaN) is skipped.
- **A real clip** is one photo filmed by a virtual camera: placed on a 640x480 or 480x640 frame, its face 140-200
  px across (as in a phone or webcam video), then a slow eased pan and zoom over the still ("Ken Burns") with a
  small hand-held shake, so the face moves between frames as in a video. Around the photo the frame is the photo's
  own border stretched outward (edge replication), strongly blurred and given a faint texture: a background that
  continues the photo's colours and holds no second face. (A blurred, enlarged copy of the photo would hold a
  giant blurred face for the detector to find.) The photo fades into it over a soft edge.
- **A fake clip** of the same person is the same construction (same frame, background and camera path) with the
  face in the photo manipulated first, by one method per clip: ``face_swap`` (a face from another person of the
  same set, ``detector.training.face_swap``), ``reenactment`` (``detector.training.reenactment``) or
  ``self_blend`` (``detector.training.self_blend``). Self-blends are made in training, so their clips are marked
  ``seen_in_training``. A person's real and fake differ in the face and, elsewhere, only by the encoder's noise: a
  paired measurement.
- **The manipulation is made once per clip**, on the still, and then filmed: every frame carries it, moving with
  the camera. The real clips' faces keep one expression, so a fake whose expression changed over time would carry
  a cue no real clip has; and cross-fading differently reenacted keyframes makes a ghosted double mouth that no
  reenactment method makes. A per-frame random self-blend would flicker as no real fake does.
- **Encoding**: H.264 (libx264, yuv420p, ``video.write_h264``) at a constant rate factor from ``crfs``: 23 and 28
  are sharing quality, 38 is heavy compression (old broadcasts, clips re-shared many times). A person's real and
  fake share a CRF; ``plan`` spreads CRFs and methods so that every (CRF, method) pair comes up equally often.

``labels.csv`` has the columns ``COLUMNS``; ``python -m detector evaluate --videos labels.csv`` reads its file and
label. ``split_halves`` splits the rows by group into a half to choose thresholds on and a half to report on
(written beside it as ``labels-fit.csv`` and ``labels-report.csv``). ``scripts/benchmark_clips.py`` is the command.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from detector.analysis import video
from detector.errors import DatasetError
from detector.training import datasets, face_swap, landmarks, self_blend

logger = logging.getLogger(__name__)

PEOPLE = ("utkface", "dfdc")
METHODS = ("face_swap", "reenactment", "self_blend")
SEEN_IN_TRAINING = frozenset({"self_blend"})
REAL_METHOD = "none"
COLUMNS = ("file", "label", "group", "method", "crf", "people", "seen_in_training")
REENACTMENT_MODULE = "detector.training.reenactment"
# Photos are decoded at the crop-level face swap set's side, and meshed there.
SIDE = 224
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
BACKGROUND_BLUR = 0.12
# Standard deviations (0-255 units) of the background's slow colour texture and of its fine grain.
TEXTURE = 8.0
GRAIN = 2.0


@dataclass(frozen=True)
class ClipRow:
    """One row of ``labels.csv``: a clip, its truth, its person (``group``) and how it was made."""

    file: str
    label: str
    group: str
    method: str
    crf: int
    people: str
    seen_in_training: bool

    def __post_init__(self) -> None:
        if self.label not in datasets.LABELS:
            raise ValueError(f"label must be one of {tuple(datasets.LABELS)}, got {self.label!r}")
        if self.method not in (*METHODS, REAL_METHOD) or (self.method == REAL_METHOD) != (self.label == "REAL"):
            raise ValueError(f"a REAL clip has method {REAL_METHOD!r}, a FAKE one of {METHODS}; got {self}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")
        if not self.file or not self.group:
            raise ValueError("file and group must not be empty")

    def to_csv(self) -> list[str]:
        return [str(value) if not isinstance(value, bool) else ("yes" if value else "no") for value in astuple(self)]


@dataclass(frozen=True)
class Person:
    """A real face: its file, group, ``(SIDE, SIDE, 3) uint8 RGB`` photo and ``(468, 2) float32`` mesh."""

    name: str
    group: str
    photo: np.ndarray
    mesh: np.ndarray


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


@dataclass(frozen=True)
class FilmPlan:
    """How a pair is filmed and encoded: ``camera_matrices``' ``(T, 2, 3)`` maps, frame rate, CRF, fake's method."""

    matrices: np.ndarray
    fps: int
    crf: int
    method: str


def draw_layout(face_size: float, rng: np.random.Generator) -> Layout:
    """A random ``Layout`` for a ``SIDE`` px photo whose face is ``face_size`` pixels across in it."""
    if not face_size > 0:
        raise ValueError(f"face_size must be positive, got {face_size}")
    width, height = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    scale = min(rng.uniform(*FACE_SIZE) / face_size, MAX_PHOTO_SHARE * min(width, height) / SIDE)
    side = round(SIDE * scale)
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
    """A ``(height, width, 3) float32`` zero-mean texture: slow colour blotches and a fine grey grain."""
    slow = cv2.resize(rng.normal(0.0, TEXTURE, (5, 7, 3)).astype(np.float32), (width, height), cv2.INTER_CUBIC)
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


def film(scene: np.ndarray, matrices: np.ndarray) -> Iterator[np.ndarray]:
    """The frames ``(H, W, 3) uint8 RGB`` of ``scene`` seen through each of ``camera_matrices``' maps."""
    height, width = scene.shape[:2]
    for matrix in matrices:
        yield cv2.warpAffine(scene, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def plan(pair_index: int, crfs: Sequence[int], methods: Sequence[str]) -> tuple[int, str]:
    """The CRF and method of the ``pair_index``-th (real, fake) pair.

    CRFs cycle; the method shifts by one with every cycle, so each run of ``len(crfs) * len(methods)`` pairs has
    every (CRF, method) combination once, and every run of ``len(crfs)`` pairs has each CRF once.
    """
    if pair_index < 0 or not crfs or not methods:
        raise ValueError("need a non-negative pair index, and at least one CRF and one method")
    cycle, position = divmod(pair_index, len(crfs))
    return int(crfs[position]), methods[(position + cycle) % len(methods)]


def _utkface_kind(name: str) -> tuple[str, str] | None:
    """(gender, ethnicity) from a UTKFace name ``age_gender_race_date.jpg``; None when it does not parse."""
    parts = name.split("_")
    return (parts[1], parts[2]) if len(parts) >= 4 and parts[1].isdigit() and parts[2].isdigit() else None


def choose_source(person: Person, people: Sequence[Person], rng: np.random.Generator) -> Person:
    """Another person of another group to take a face from: for UTKFace names, of the same gender and ethnicity
    where there is one, else the same gender; failing that anyone else."""
    others = [other for other in people if other.group != person.group]
    if not others:
        raise ValueError(f"no face from another group than {person.group!r} to swap in")
    kind = _utkface_kind(person.name)
    if kind is not None:
        alike = [other for other in others if _utkface_kind(other.name) == kind]
        same_gender = [other for other in others if (_utkface_kind(other.name) or ("",))[0] == kind[0]]
        others = alike or same_gender or others
    return others[int(rng.integers(len(others)))]


def _reenactment() -> ModuleType:
    return importlib.import_module(REENACTMENT_MODULE)


def manipulate(
    method: str, person: Person, people: Sequence[Person], rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """``person``'s photo ``(S, S, 3) uint8 RGB`` with the face manipulated by ``method``, and what was done.

    ``people`` are the faces a swap may take its source from. Raises ``ValueError`` when the method cannot work
    on this face (e.g. meshes that leave no area to swap).
    """
    if method == "face_swap":
        source = choose_source(person, people, rng)
        blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
        swapped = face_swap.swap_faces(person.photo, person.mesh, source.photo, source.mesh, blend)
        return swapped, f"{blend} swap from {source.name}"
    if method == "self_blend":
        return self_blend.self_blend(person.photo, person.mesh, rng), "self-blend"
    if method == "reenactment":
        return _reenactment().reenact(person.photo, person.mesh, rng), "reenactment"
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def people_set(people: str) -> datasets.CropSet:
    """The real photos of ``people`` (``PEOPLE``) that no model trains on."""
    if people == "utkface":
        return datasets.split_utkface(datasets.load_utkface())[1]
    if people == "dfdc":
        validation = datasets.split_by_group(datasets.load_dfdc_faces(), datasets.VALIDATION_PERCENT)[1]
        return validation.subset(validation.labels == 0)
    raise ValueError(f"people must be one of {PEOPLE}, got {people!r}")


def load_people(crops: datasets.CropSet, indices: Sequence[int], cache_folder: Path | None) -> list[Person]:
    """The photos at ``indices`` with a trusted mesh, decoded at ``SIDE`` (both cached in ``cache_folder``)."""
    files = [crops.files[index] for index in indices]
    photos = datasets.decode_images(crops.root, files, SIDE, cache_folder)
    meshes = landmarks.precompute_landmarks(photos, cache_folder).astype(np.float32)
    trusted = np.isfinite(meshes).all(axis=(1, 2))
    return [
        Person(files[position], crops.groups[index], photos[position], meshes[position])
        for position, index in enumerate(indices)
        if trusted[position]
    ]


def frame_count(seconds: float, fps: int) -> int:
    """Frames in a clip of ``seconds`` at ``fps``; ``ValueError`` unless there is at least one."""
    if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    if not (math.isfinite(seconds) and seconds > 0) or round(seconds * fps) < 1:
        raise ValueError(f"seconds must be positive and give at least one frame at {fps} fps, got {seconds}")
    return round(seconds * fps)


def check_arguments(people: str, count: int, crfs: Sequence[int], methods: Sequence[str]) -> None:
    """``ValueError`` for anything ``write_clips`` cannot make (before any data is read)."""
    if people not in PEOPLE:
        raise ValueError(f"people must be one of {PEOPLE}, got {people!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 2 or count % 2:
        raise ValueError(f"count must be an even number of clips, at least 2, got {count!r}")
    if not crfs or len(set(crfs)) != len(crfs) or not all(isinstance(crf, int) and 0 <= crf <= 51 for crf in crfs):
        raise ValueError(f"crfs must be distinct integers in [0, 51], at least one, got {crfs!r}")
    if not methods or len(set(methods)) != len(methods) or not set(methods) <= set(METHODS):
        raise ValueError(f"methods must be distinct names from {METHODS}, at least one, got {methods!r}")
    if "reenactment" in methods and importlib.util.find_spec(REENACTMENT_MODULE) is None:
        raise ValueError(f"method 'reenactment' needs {REENACTMENT_MODULE}, which is not there: leave it out")


def write_pair(
    out: Path, person: Person, fake_photo: np.ndarray, layout: Layout, texture: np.ndarray, film_plan: FilmPlan
) -> tuple[str, str]:
    """Films ``person``'s photo and ``fake_photo`` (``(S, S, 3) uint8 RGB``) alike: same background (made from
    the real photo), same camera; writes both into ``out`` and returns their file names."""
    background = scene_background(person.photo, layout, texture)
    stem = f"{Path(person.name).stem}.crf{film_plan.crf}"
    names = (f"{stem}.real.mp4", f"{stem}.{film_plan.method}.mp4")
    for name, photo in zip(names, (person.photo, fake_photo), strict=True):
        scene = compose_scene(photo, layout, background)
        video.write_h264(film(scene, film_plan.matrices), out / name, film_plan.fps, crf=film_plan.crf)
    return names


def write_labels(path: Path, rows: Sequence[ClipRow]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.to_csv() for row in rows)


def read_rows(labels_csv: Path) -> list[ClipRow]:
    """The rows of a ``labels.csv`` that ``write_clips`` wrote."""
    with open(labels_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or tuple(reader.fieldnames) != COLUMNS:
            raise DatasetError(f"{labels_csv} needs the columns {','.join(COLUMNS)} (found {reader.fieldnames})")
        return [
            ClipRow(**{**row, "crf": int(row["crf"]), "seen_in_training": row["seen_in_training"] == "yes"})
            for row in reader
        ]


def in_report_half(group: str) -> bool:
    """Whether ``group`` is in the half to report on: the parity of a salted SHA-1 of its name.

    Salted, because the people were chosen by the unsalted SHA-1 of the same names (``split_utkface``,
    ``split_by_group``): the halves must not depend on the hash that chose them.
    """
    return int(hashlib.sha1(f"benchmark-halves|{group}".encode()).hexdigest()[:8], 16) % 2 == 1


def split_halves(rows: Sequence[ClipRow]) -> tuple[list[ClipRow], list[ClipRow]]:
    """The rows to choose thresholds on and the rows to report on, by group (a person's real and fake stay
    together), in their order; the same on every computer and every time."""
    report = [in_report_half(row.group) for row in rows]
    return [row for row, half in zip(rows, report, strict=True) if not half], [
        row for row, half in zip(rows, report, strict=True) if half
    ]


def write_clips(
    out: Path,
    people: str = "utkface",
    count: int = 60,
    seed: int = 0,
    cache_folder: Path | None = Path(".cache"),
    crfs: Sequence[int] = (23, 28, 38),
    methods: Sequence[str] = METHODS,
    seconds: float = 2.4,
    fps: int = 25,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Writes ``count`` clips (half real, half fake, in pairs of one person) and ``labels.csv`` into ``out``.

    ``people`` is ``"utkface"`` or ``"dfdc"`` (``PEOPLE``); photos and meshes are cached in ``cache_folder``. Each
    clip is ``seconds`` long at ``fps``, H.264 at one of ``crfs``, its fake made by one of ``methods``, as ``plan``
    spreads them. The same ``seed`` writes the same set. ``progress(done, total)`` is called after each pair.
    Returns counts: clips, real, fake, per method and per CRF, and people skipped (``untrusted_mesh``,
    ``manipulation_failed``). Raises ``ValueError`` for bad arguments; logs a warning when the set runs out of
    people before ``count``.
    """
    check_arguments(people, count, crfs, methods)
    frames = frame_count(seconds, fps)
    crops = people_set(people)
    order = np.random.default_rng(seed).permutation(len(crops))
    pairs = count // 2
    # Enough people at once for skipped ones and for face swap sources; more are loaded if these run out.
    batch = pairs + max(8, pairs // 4)
    out.mkdir(parents=True, exist_ok=True)
    loaded: list[Person] = []
    counts: Counter[str] = Counter()
    rows: list[ClipRow] = []
    next_person, next_index = 0, 0
    while len(rows) < count:
        if next_person == len(loaded):
            if next_index >= len(order):
                logger.warning("%s ran out of people after %d of %d clips", people, len(rows), count)
                break
            indices = order[next_index : next_index + batch].tolist()
            next_index += len(indices)
            fresh = load_people(crops, indices, cache_folder)
            counts["untrusted_mesh"] += len(indices) - len(fresh)
            loaded += fresh
            continue
        person = loaded[next_person]
        next_person += 1
        pair = len(rows) // 2
        crf, method = plan(pair, crfs, methods)
        rng = np.random.default_rng([seed, pair])
        try:
            fake_photo, how = manipulate(method, person, loaded, rng)
        except ValueError as error:
            logger.info("%s: %s failed (%s); next person", person.name, method, error)
            counts["manipulation_failed"] += 1
            continue
        face_size = float(np.ptp(person.mesh, axis=0).max())
        layout = draw_layout(face_size, rng)
        texture = draw_texture(layout.height, layout.width, rng)
        film_plan = FilmPlan(camera_matrices(layout, frames, fps), fps, crf, method)
        real_name, fake_name = write_pair(out, person, fake_photo, layout, texture, film_plan)
        seen = method in SEEN_IN_TRAINING
        rows += [
            ClipRow(real_name, "REAL", person.group, REAL_METHOD, crf, people, False),
            ClipRow(fake_name, "FAKE", person.group, method, crf, people, seen),
        ]
        logger.info("%d/%d %s: %dx%d, CRF %d, %s", pair + 1, pairs, person.name, layout.width, layout.height, crf, how)
        if progress is not None:
            progress(pair + 1, pairs)
    write_labels(out / "labels.csv", rows)
    fit_rows, report_rows = split_halves(rows)
    write_labels(out / "labels-fit.csv", fit_rows)
    write_labels(out / "labels-report.csv", report_rows)
    fakes = [row for row in rows if row.label == "FAKE"]
    return {
        "clips": len(rows),
        "real": len(rows) - len(fakes),
        "fake": len(fakes),
        **{f"fake_{method}": sum(row.method == method for row in fakes) for method in methods},
        **{f"crf_{crf}": sum(row.crf == crf for row in rows) for crf in crfs},
        "fit_half": len(fit_rows),
        "report_half": len(report_rows),
        "untrusted_mesh": counts["untrusted_mesh"],
        "manipulation_failed": counts["manipulation_failed"],
    }
