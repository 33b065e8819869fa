"""The crop-level sets of the generalisation benchmark, written as labelled folders (``labels.csv`` beside the crops).

Every set is made only from people no model here trains on, so that its figure measures generalisation:

- the real crops of the DFDC validation split (by group: ``datasets.split_by_group``) and the held-out quarter of
  UTKFace (``datasets.split_utkface``): both are kept out of every training set, mixed runs included
  (``detector.training.sources``);
- the FF++ validation groups (``sources.split_ffpp``), never trained on.

What is done to them:

- **face swaps** (``detector.training.face_swap``): the landmark swap that graphics tools made before deep
  learning (warp, colour match, alpha or Poisson blend): the "graphics-style" swap, never trained on;
- **reenactment proxies** (``detector.training.reenactment``): only the mouth or the lower face moved to a new
  expression, as Face2Face and NeuralTextures do; never trained on;
- **FaceForensics++ methods**: the validation groups' reals against each method's fakes, cut to the analysis
  framing as training cuts them (``sources.FFPP_REFRAME``) and written losslessly (PNG).

Pairs are written at ``SIDE`` px as JPEG of quality ``JPEG_QUALITY``, the real and its fake alike, so nothing but
the manipulation tells them apart; ``labels.csv`` has ``file,label,group`` and the group is the real face's, so the
bootstrap resamples a face and its fake together.
"""

from __future__ import annotations

import csv
import itertools
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from detector.training import datasets, face_swap, landmarks, reenactment, sources

logger = logging.getLogger(__name__)

AGE_GAP = 10
JPEG_QUALITY = 90
SIDE = 224
PEOPLE = ("utkface", "dfdc")
PEOPLE_WORDS = {
    "utkface": ("UTKFace photos of people no model here was trained on", "photos"),
    "dfdc": (
        "the real crops of the DFDC validation split (people no model here was trained on, DFDC's cameras)",
        "crops",
    ),
}


def utkface_traits(name: str) -> tuple[int, str, str] | None:
    """(age, gender, ethnicity) from a UTKFace file name ``age_gender_race_date.jpg``; None when it does not parse."""
    parts = name.split("_")
    if len(parts) < 4 or not all(part.isdigit() for part in parts[:3]):
        return None
    return int(parts[0]), parts[1], parts[2]


def _closest_kind(own: tuple[int, str, str] | None, others: list[int], traits: list) -> list[int]:
    """Of ``others``, those of the same gender and ethnicity and an age within ``AGE_GAP`` years of ``own``;
    failing that, those of the same gender; failing that, all of them."""
    if own is None:
        return others
    age, gender, ethnicity = own
    known = [(other, traits[other]) for other in others if traits[other] is not None]
    alike = [other for other, (a, g, e) in known if g == gender and e == ethnicity and abs(a - age) <= AGE_GAP]
    same_gender = [other for other, (_, g, _) in known if g == gender]
    return alike or same_gender or others


def choose_sources(names: list[str], rng: np.random.Generator) -> list[int]:
    """For each photo, the index of another to take the face from (``_closest_kind``, then at random)."""
    traits = [utkface_traits(name) for name in names]
    everyone = list(range(len(names)))
    return [
        int(rng.choice(_closest_kind(own, everyone[:index] + everyone[index + 1 :], traits)))
        for index, own in enumerate(traits)
    ]


def choose_other_group(groups: list[str], rng: np.random.Generator) -> list[int]:
    """For each face, the index of a face from another group (another source video) to take the face from."""
    groups_array = np.asarray(groups)
    return [int(rng.choice(np.flatnonzero(groups_array != group))) for group in groups]


def held_out_people(people: str, cache_folder: Path | None) -> tuple[list[str], np.ndarray, list[str]]:
    """The real faces no model trains on: file names, ``(N, SIDE, SIDE, 3) uint8 RGB`` crops, a group per face."""
    if people == "utkface":
        chosen = datasets.split_utkface(datasets.load_utkface())[1]
    elif people == "dfdc":
        validation = datasets.split_by_group(datasets.load_dfdc_faces(), datasets.VALIDATION_PERCENT)[1]
        chosen = validation.subset(validation.labels == 0)
    else:
        raise ValueError(f"people must be one of {PEOPLE}, got {people!r}")
    images = datasets.decode_images(chosen.root, chosen.files, SIDE, cache_folder)
    return list(chosen.files), images, list(chosen.groups)


def write_image(image: np.ndarray, path: Path) -> None:
    """``(H, W, 3) uint8 RGB`` as JPEG (``JPEG_QUALITY``) or, for ``.png``, losslessly."""
    parameters = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.suffix == ".jpg" else []
    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), parameters)
    if not ok:
        raise ValueError(f"cannot encode {path.name}")
    path.write_bytes(encoded.tobytes())


def _write_labels(out: Path, rows: list[tuple[str, str, str]]) -> None:
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group"])
        writer.writerows(rows)


@dataclass(frozen=True)
class HeldOutFaces:
    """Held-out faces with their meshes: ``images`` ``(N, SIDE, SIDE, 3) uint8 RGB``, ``meshes`` ``(N, 468, 2)``
    (NaN rows untrusted), and ``trusted``, the indices of the faces with a trusted mesh."""

    files: list[str]
    images: np.ndarray
    meshes: np.ndarray
    groups: list[str]
    trusted: np.ndarray


def held_out_faces(people: str, cache_folder: Path | None) -> HeldOutFaces:
    """``held_out_people`` with each face's mesh (``landmarks.precompute_landmarks``, cached)."""
    files, images, groups = held_out_people(people, cache_folder)
    meshes = landmarks.precompute_landmarks(images, cache_folder)
    trusted = np.flatnonzero(np.isfinite(meshes.astype(np.float32)).all(axis=(1, 2)))
    return HeldOutFaces(files, images, meshes, groups, trusted)


@dataclass(frozen=True)
class FakeJob:
    """One fake with every random choice already taken: ``make(*arguments)`` is the fake ``(SIDE, SIDE, 3) uint8
    RGB`` (``ValueError`` when it cannot be made), ``tag`` names its file. ``make`` is a module-level function, so
    a job can be made in another process."""

    make: Callable[..., np.ndarray]
    arguments: tuple[Any, ...]
    tag: str


# The random choices for the ``position``-th trusted face, taken from the set's one generator in turn: its job.
# ValueError when the face cannot be manipulated.
Draw = Callable[[int, np.random.Generator], FakeJob]

# Faces handed to a process at a time: a few seconds of work, a few MB to send.
CHUNK = 32


def _made(job: FakeJob | None) -> np.ndarray | None:
    if job is None:
        return None
    try:
        return job.make(*job.arguments)
    except ValueError:
        return None


def _write_faces(out: Path, faces: list[tuple[str, np.ndarray, FakeJob | None]]) -> list[str | None]:
    """Each ``(stem, real image, job)`` made and written as ``<stem>.real.jpg`` and ``<stem>.<tag>.jpg``: the fake's
    file name for each face, None where there was no job or it could not be made (nothing written)."""
    names: list[str | None] = []
    # One BLAS thread: a warp solves one small system per mesh triangle (scipy's Delaunay transform), and
    # OpenBLAS's threads, synchronised on each, crawl when the cores are busy (seen: minutes a face beside the tests).
    with threadpool_limits(limits=1, user_api="blas"):
        for stem, real, job in faces:
            fake = _made(job)
            if fake is None or job is None:
                names.append(None)
                continue
            write_image(real, out / f"{stem}.real.jpg")
            write_image(fake, out / f"{stem}.{job.tag}.jpg")
            names.append(f"{stem}.{job.tag}.jpg")
    return names


def _one_thread() -> None:
    cv2.setNumThreads(1)  # one process a core: OpenCV's own threads would only contend


def default_workers() -> int:
    """Processes to make a set's fakes with: one per core this process may run on."""
    return len(os.sched_getaffinity(0))


def _make_all(out: Path, faces: list[tuple[str, np.ndarray, FakeJob | None]], workers: int) -> list[str | None]:
    """``_write_faces`` over every face, in this process (``workers`` 1) or spread over ``workers`` processes in
    chunks of ``CHUNK``; the result is in the faces' order either way."""
    chunks = [faces[start : start + CHUNK] for start in range(0, len(faces), CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        return [name for chunk in chunks for name in _write_faces(out, chunk)]
    # Spawned, not forked: the parent may hold TensorFlow's and OpenCV's threads, which a fork would copy mid-lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context, initializer=_one_thread) as pool:
        return [name for names in pool.map(_write_faces, itertools.repeat(out), chunks) for name in names]


def write_pairs(
    out: Path,
    faces: HeldOutFaces,
    seed: int,
    draws: Callable[[HeldOutFaces, np.random.Generator], Draw],
    workers: int | None = None,
) -> dict[str, int]:
    """Each trusted held-out face once as itself (REAL) and once manipulated (FAKE), and ``labels.csv``.

    Every random choice is drawn here, face after face from one generator seeded with ``seed``; only the making and
    writing is spread over ``workers`` processes (default ``default_workers``), so the set is the same file for
    file whatever the number of processes."""
    rng = np.random.default_rng(seed)
    draw = draws(faces, rng)
    jobs: list[tuple[str, np.ndarray, FakeJob | None]] = []
    for position, index in enumerate(faces.trusted):
        try:
            job = draw(position, rng)
        except ValueError:
            job = None
        jobs.append((Path(faces.files[index]).stem, faces.images[index], job))
    out.mkdir(parents=True, exist_ok=True)
    names = _make_all(out, jobs, default_workers() if workers is None else workers)
    rows: list[tuple[str, str, str]] = []
    for index, (stem, _, _), name in zip(faces.trusted, jobs, names, strict=True):
        if name is not None:
            rows += [(f"{stem}.real.jpg", "REAL", faces.groups[index]), (name, "FAKE", faces.groups[index])]
    _write_labels(out, rows)
    return {
        "real_faces": len(faces.files),
        "without_trusted_mesh": len(faces.files) - len(faces.trusted),
        "failed": names.count(None),
        "pairs_written": len(rows) // 2,
    }


def face_swap_draws(people: str) -> Callable[[HeldOutFaces, np.random.Generator], Draw]:
    def draws(faces: HeldOutFaces, rng: np.random.Generator) -> Draw:
        if people == "utkface":
            chosen = choose_sources([faces.files[index] for index in faces.trusted], rng)
        else:
            chosen = choose_other_group([faces.groups[index] for index in faces.trusted], rng)

        def draw(position: int, rng: np.random.Generator) -> FakeJob:
            index, source = faces.trusted[position], faces.trusted[chosen[position]]
            blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
            target_mesh, source_mesh = faces.meshes[index].astype(np.float32), faces.meshes[source].astype(np.float32)
            arguments = (faces.images[index], target_mesh, faces.images[source], source_mesh, blend)
            return FakeJob(face_swap.swap_faces, arguments, f"swap-{blend}")

        return draw

    return draws


def _reenacted(image: np.ndarray, points: np.ndarray, region: str, expression: reenactment.Expression) -> np.ndarray:
    return reenactment.apply_expression(image, points, region, expression)[0]


def reenactment_draws(faces: HeldOutFaces, rng: np.random.Generator) -> Draw:
    def draw(position: int, rng: np.random.Generator) -> FakeJob:
        index = faces.trusted[position]
        region = reenactment.REGIONS[int(rng.integers(len(reenactment.REGIONS)))]
        points, region, expression = reenactment.draw_reenactment(
            faces.images[index], faces.meshes[index].astype(np.float32), rng, region
        )
        return FakeJob(_reenacted, (faces.images[index], points, region, expression), f"reenact-{region}")

    return draw


def write_face_swaps(
    out: Path,
    people: str = "utkface",
    seed: int = 0,
    cache_folder: Path | None = Path(".cache"),
    workers: int | None = None,
) -> dict[str, int]:
    """Face swaps between held-out ``people`` (UTKFace: of the same gender and ethnicity and a close age where
    there is one; DFDC: from another source video), made on ``workers`` processes (default one per core)."""
    return write_pairs(out, held_out_faces(people, cache_folder), seed, face_swap_draws(people), workers)


def write_reenactments(
    out: Path,
    people: str = "utkface",
    seed: int = 0,
    cache_folder: Path | None = Path(".cache"),
    workers: int | None = None,
) -> dict[str, int]:
    """Reenactment proxies of held-out ``people``: the mouth or the lower face, half each at random, made on
    ``workers`` processes (default one per core)."""
    return write_pairs(out, held_out_faces(people, cache_folder), seed, reenactment_draws, workers)


def write_ffpp_validation(out: Path) -> dict[str, int]:
    """The FF++ validation crops, cut to the analysis framing, as PNG; ``labels.csv`` (every crop) and one
    ``labels-<method>.csv`` per method (the reals and that method's fakes)."""
    validation = sources.split_ffpp(sources.load_ffpp_faces())[1]
    crops = validation.crops
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, str]] = []
    for name, label, group, method in zip(crops.files, crops.labels, crops.groups, validation.methods, strict=True):
        image = datasets.read_image(crops.root / name, SIDE, sources.FFPP_REFRAME)
        png = f"{Path(name).stem}.png"
        write_image(image, out / png)
        rows.append((png, "FAKE" if label else "REAL", group, method))
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group", "method"])
        writer.writerows(rows)
    for method in sources.FFPP_METHODS:
        chosen = [row[:3] for row in rows if row[3] in (method, sources.FFPP_REAL_METHOD)]
        with open(out / f"labels-{method}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label", "group"])
            writer.writerows(chosen)
    return {"crops": len(rows), "groups": len(set(crops.groups))}


def write_utkface_held_out(out: Path) -> dict[str, int]:
    """A labels file of the held-out UTKFace photos where they are (all REAL): ``out/labels.csv``, with each photo
    its own group, pointing at ``../shared``."""
    photos = datasets.split_utkface(datasets.load_utkface())[1]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows((str(photos.root / name), "REAL") for name in photos.files)
    return {"photos": len(photos)}
