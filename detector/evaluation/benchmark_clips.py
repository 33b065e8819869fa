"""Real and fake *videos* of people no model here was trained on, to measure the whole verdict path.

The crop-level sets (``detector.evaluation.benchmark_sets``) score one face crop at a time; the verdict a user sees
comes from much more: frames sampled from a video, faces found and tracked, scores aggregated, thresholds. We have
no videos of many unseen people, so the clips are made here from their photos:

- **People**: the held-out quarter of UTKFace (``datasets.split_utkface``) or the real crops of the DFDC validation
  split (``datasets.split_by_group``); no model trains on either. They are taken in a seeded random order; a photo
  whose face mesh is not trusted (``landmarks.precompute_landmarks`` gives NaN) is skipped.
- **A real clip** is one photo filmed by a virtual camera (``detector.evaluation.filming``): placed on a 640x480
  or 480x640 frame, its face 140-240 px across as in a phone or webcam video, on a background continued from the
  photo's own border, with a slow pan and zoom, a small hand-held shake and sensor noise, so the face moves between
  frames as in a video.
- **A fake clip** of the same person is the same construction (same frame, background and camera path) with the
  face in the photo manipulated first, by one method per clip: ``face_swap`` (a face from another person of the
  same set, ``detector.training.face_swap``), ``reenactment`` (``detector.training.reenactment``) or
  ``self_blend`` (``detector.training.self_blend``). Which of these a model trained with is the model's, not the
  clip's: ``trained_methods`` says it for a model's trained kinds (``ship.trained_kinds``). A person's real and
  fake differ in the face and, elsewhere, only by the encoder's noise: a paired measurement.
- **The manipulation is made once per clip**, on the still, and then filmed: every frame carries it, moving with
  the camera. The real clips' faces keep one expression, so a fake whose expression changed over time would carry
  a cue no real clip has; and cross-fading differently reenacted keyframes makes a ghosted double mouth that no
  reenactment method makes. A per-frame random self-blend would flicker as no real fake does. (And a face warped
  anew for every frame would cost 60 mesh warps of 0.1-0.6 s each per clip.)
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
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from detector.analysis import video
from detector.errors import DatasetError
from detector.evaluation import benchmark_sets, filming
from detector.training import datasets, face_swap, landmarks, reenactment, self_blend, sources

logger = logging.getLogger(__name__)

PEOPLE = ("utkface", "dfdc")
METHODS = ("face_swap", "reenactment", "self_blend")
# The kind of training fake (``detector.training.sources``) each method's generator also makes in training.
TRAINING_KIND = {
    "face_swap": sources.FACE_SWAP,
    "reenactment": sources.REENACTMENT_PROXY,
    "self_blend": sources.SELF_BLEND,
}
REAL_METHOD = "none"
COLUMNS = ("file", "label", "group", "method", "crf", "people")
# Photos are decoded and meshed at the crop-level sets' side.
SIDE = benchmark_sets.SIDE
# The salt of the hash that splits the people in halves (``in_report_half``).
HALF_SALT = "video-half:"


@dataclass(frozen=True)
class ClipRow:
    """One row of ``labels.csv``: a clip, its truth, its person (``group``) and how it was made."""

    file: str
    label: str
    group: str
    method: str
    crf: int
    people: str

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
        return [str(value) for value in astuple(self)]


@dataclass(frozen=True)
class Person:
    """A real face: its file, group, ``(SIDE, SIDE, 3) uint8 RGB`` photo and ``(468, 2) float32`` mesh."""

    name: str
    group: str
    photo: np.ndarray
    mesh: np.ndarray


@dataclass(frozen=True)
class FilmPlan:
    """How a pair is filmed and encoded: ``camera_matrices``' ``(T, 2, 3)`` maps, frame rate, CRF, the fake's
    method, and the seed of the sensor noise (the same for the real and the fake)."""

    matrices: np.ndarray
    fps: int
    crf: int
    method: str
    noise_seed: int


def plan(pair_index: int, crfs: Sequence[int], methods: Sequence[str]) -> tuple[int, str]:
    """The CRF and method of the ``pair_index``-th (real, fake) pair.

    CRFs cycle; the method shifts by one with every cycle, so each run of ``len(crfs) * len(methods)`` pairs has
    every (CRF, method) combination once, and every run of ``len(crfs)`` pairs has each CRF once.
    """
    if pair_index < 0 or not crfs or not methods:
        raise ValueError("need a non-negative pair index, and at least one CRF and one method")
    cycle, position = divmod(pair_index, len(crfs))
    return int(crfs[position]), methods[(position + cycle) % len(methods)]


def choose_source(target: int, crops: datasets.CropSet, rng: np.random.Generator) -> int:
    """The index in ``crops`` of a face from another group to swap onto face ``target``.

    Among UTKFace names, one alike where there is one: the same gender and ethnicity and an age within
    ``benchmark_sets.AGE_GAP`` years, failing that the same gender and ethnicity, failing that the same gender,
    failing that anyone (a child's face on an old man's head is a fake nobody would make). Chosen from the whole
    set, not only the people filmed.
    """
    groups = np.asarray(crops.groups, dtype=object)
    others = np.flatnonzero(groups != crops.groups[target])
    if not others.size:
        raise ValueError(f"no face from another group than {crops.groups[target]!r} to swap in")
    own = benchmark_sets.utkface_traits(crops.files[target])
    if own is not None:
        traits = [benchmark_sets.utkface_traits(crops.files[index]) for index in others]
        age, gender, ethnicity = own
        same_gender = [t is not None and t[1] == gender for t in traits]
        same_kind = [same and t[2] == ethnicity for same, t in zip(same_gender, traits, strict=True)]
        alike = [same and abs(t[0] - age) <= benchmark_sets.AGE_GAP for same, t in zip(same_kind, traits, strict=True)]
        for mask in (alike, same_kind, same_gender):
            if any(mask):
                others = others[np.asarray(mask)]
                break
    return int(others[rng.integers(others.size)])


def manipulate(method: str, person: Person, source: Person | None, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """``person``'s photo ``(S, S, 3) uint8 RGB`` with the face manipulated by ``method``, and what was done.

    ``source`` is the face a swap takes (``choose_source``; None when its mesh is not trusted). Raises
    ``ValueError`` when the method cannot work on this face (no source, meshes that leave no area to swap).
    """
    if method == "face_swap":
        if source is None:
            raise ValueError("the face to swap in has no trusted mesh")
        blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
        swapped = face_swap.swap_faces(person.photo, person.mesh, source.photo, source.mesh, blend)
        return swapped, f"{blend} swap from {source.name}"
    if method == "self_blend":
        return self_blend.self_blend(person.photo, person.mesh, rng), "self-blend"
    if method == "reenactment":
        return reenactment.reenact(person.photo, person.mesh, rng), "reenactment"
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def people_set(people: str) -> datasets.CropSet:
    """The real photos of ``people`` (``PEOPLE``) that no model trains on."""
    if people == "utkface":
        return datasets.split_utkface(datasets.load_utkface())[1]
    if people == "dfdc":
        validation = datasets.split_by_group(datasets.load_dfdc_faces(), datasets.VALIDATION_PERCENT)[1]
        return validation.subset(validation.labels == 0)
    raise ValueError(f"people must be one of {PEOPLE}, got {people!r}")


def load_people(crops: datasets.CropSet, indices: Sequence[int], cache_folder: Path | None) -> dict[int, Person]:
    """The photos at ``indices`` (into ``crops``) that have a trusted mesh, by index, decoded at ``SIDE``; photos and
    meshes are cached in ``cache_folder``."""
    unique = list(dict.fromkeys(indices))
    files = [crops.files[index] for index in unique]
    photos = datasets.decode_images(crops.root, files, SIDE, cache_folder)
    meshes = landmarks.precompute_landmarks(photos, cache_folder).astype(np.float32)
    trusted = np.isfinite(meshes).all(axis=(1, 2))
    return {
        index: Person(files[position], crops.groups[index], photos[position], meshes[position])
        for position, index in enumerate(unique)
        if trusted[position]
    }


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


def write_pair(
    out: Path, person: Person, fake_photo: np.ndarray, layout: filming.Layout, texture: np.ndarray, film_plan: FilmPlan
) -> tuple[str, str]:
    """Films ``person``'s photo and ``fake_photo`` (``(S, S, 3) uint8 RGB``) alike: same background (made from
    the real photo), same camera; writes both into ``out`` and returns their file names."""
    background = filming.scene_background(person.photo, layout, texture)
    stem = f"{Path(person.name).stem}.crf{film_plan.crf}"
    names = (f"{stem}.real.mp4", f"{stem}.{film_plan.method}.mp4")
    for name, photo in zip(names, (person.photo, fake_photo), strict=True):
        scene = filming.compose_scene(photo, layout, background)
        video.write_h264(
            filming.film(scene, film_plan.matrices, film_plan.noise_seed),
            out / name,
            film_plan.fps,
            crf=film_plan.crf,
            deterministic=True,
        )
    return names


def write_labels(path: Path, rows: Sequence[ClipRow]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.to_csv() for row in rows)


def read_rows(labels_csv: Path) -> list[ClipRow]:
    """The rows of a ``labels.csv`` that ``write_clips`` wrote (other columns, such as the per-set
    ``seen_in_training`` that sets written before 2026-12-05 carry, are left out)."""
    with open(labels_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
            raise DatasetError(f"{labels_csv} needs the columns {','.join(COLUMNS)} (found {reader.fieldnames})")
        return [ClipRow(**{**{key: row[key] for key in COLUMNS}, "crf": int(row["crf"])}) for row in reader]


@dataclass(frozen=True)
class TrainedOn:
    """Whether a model trained on a clip set's kinds of fake: ``answer`` "no", "partly", "yes" (or "not known"),
    and for "partly" and "yes" ``detail``, which of the fake clips a generator it trained with made."""

    answer: str
    detail: str = ""

    @property
    def card_text(self) -> str:
        """The card's ``trained_on_this_kind``: ``"no"``, or ``"partly: 40 of the 120 fake clips (...) ..."``."""
        return f"{self.answer}: {self.detail}" if self.detail else self.answer


def trained_methods(rows: Sequence[ClipRow], trained_kinds: frozenset[str]) -> TrainedOn:
    """Whether a model that trained on ``trained_kinds`` (``ship.trained_kinds``) saw these clips' kinds of fake:
    "no", or "partly" ("yes" when every one) and how many of the fake clips a generator it also trained with made.
    Its clip figures stay over all the clips; the words say how far they are a test."""
    fakes = [row for row in rows if row.label == "FAKE"]
    seen = Counter(row.method for row in fakes if TRAINING_KIND[row.method] in trained_kinds)
    if not seen:
        return TrainedOn("no")
    methods = ", ".join(f"{count} {method.replace('_', ' ')}" for method, count in sorted(seen.items()))
    return TrainedOn(
        "yes" if sum(seen.values()) == len(fakes) else "partly",
        f"{sum(seen.values())} of the {len(fakes)} fake clips ({methods}) were made the way some of its training "
        "fakes were",
    )


def in_report_half(group: str) -> bool:
    """Whether ``group`` is in the half to report on: the SHA-1 of ``HALF_SALT`` + its name is odd.

    Salted, because the people were chosen by the unsalted SHA-1 of the same names (``split_utkface``,
    ``split_by_group``): the halves must not depend on the hash that chose them. The rule is
    ``detector.shipping.video_thresholds.in_fit_half``'s, so that ``labels-fit.csv`` holds the clips the video
    thresholds are fitted on.
    """
    return int(hashlib.sha1((HALF_SALT + group).encode("utf-8")).hexdigest()[:8], 16) % 2 == 1


def split_halves(rows: Sequence[ClipRow]) -> tuple[list[ClipRow], list[ClipRow]]:
    """The rows to choose thresholds on and the rows to report on, by group (a person's real and fake stay
    together), in their order; the same on every computer and every time."""
    report = [in_report_half(row.group) for row in rows]
    return [row for row, half in zip(rows, report, strict=True) if not half], [
        row for row, half in zip(rows, report, strict=True) if half
    ]


def _next_people(
    crops: datasets.CropSet,
    indices: list[int],
    with_sources: bool,
    seed: int,
    cache_folder: Path | None,
    counts: Counter[str],
) -> list[tuple[Person, Person | None]]:
    """The people at ``indices`` with a trusted mesh, in order, each with a face to swap in (``choose_source``;
    None when not ``with_sources`` or when that face's mesh is not trusted). Counts the untrusted in ``counts``."""
    rng = np.random.default_rng([seed, indices[0], len(indices)])
    sources = [choose_source(index, crops, rng) for index in indices] if with_sources else []
    loaded = load_people(crops, indices + sources, cache_folder)
    counts["untrusted_mesh"] += sum(index not in loaded for index in indices)
    return [
        (loaded[index], loaded.get(sources[position]) if with_sources else None)
        for position, index in enumerate(indices)
        if index in loaded
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
    frames = filming.frame_count(seconds, fps)
    crops = people_set(people)
    order = np.random.default_rng(seed).permutation(len(crops)).tolist()
    pairs = count // 2
    # Enough people at once for the skipped ones; more are loaded if these run out.
    batch = pairs + max(8, pairs // 4)
    out.mkdir(parents=True, exist_ok=True)
    queue: list[tuple[Person, Person | None]] = []
    counts: Counter[str] = Counter()
    rows: list[ClipRow] = []
    while len(rows) < count:
        if not queue:
            if not order:
                logger.warning("%s ran out of people after %d of %d clips", people, len(rows), count)
                break
            queue = _next_people(crops, order[:batch], "face_swap" in methods, seed, cache_folder, counts)
            order = order[batch:]
            continue
        person, source = queue.pop(0)
        pair = len(rows) // 2
        crf, method = plan(pair, crfs, methods)
        rng = np.random.default_rng([seed, pair])
        try:
            fake_photo, how = manipulate(method, person, source, rng)
        except ValueError as error:
            logger.info("%s: %s failed (%s); next person", person.name, method, error)
            counts["manipulation_failed"] += 1
            continue
        layout = filming.draw_layout(SIDE, float(np.ptp(person.mesh, axis=0).max()), rng)
        texture = filming.draw_texture(layout.height, layout.width, rng)
        film_plan = FilmPlan(filming.camera_matrices(layout, frames, fps), fps, crf, method, int(rng.integers(2**31)))
        real_name, fake_name = write_pair(out, person, fake_photo, layout, texture, film_plan)
        rows += [
            ClipRow(real_name, "REAL", person.group, REAL_METHOD, crf, people),
            ClipRow(fake_name, "FAKE", person.group, method, crf, people),
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
