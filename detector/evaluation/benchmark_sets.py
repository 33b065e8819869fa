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
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

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


# The fake of the ``position``-th trusted face: (fake image, file tag). Raises ValueError when it cannot be made.
Manipulation = Callable[[int, np.random.Generator], tuple[np.ndarray, str]]


def write_pairs(
    out: Path,
    faces: HeldOutFaces,
    seed: int,
    manipulation: Callable[[HeldOutFaces, np.random.Generator], Manipulation],
) -> dict[str, int]:
    """Each trusted held-out face once as itself (REAL) and once manipulated (FAKE), and ``labels.csv``."""
    rng = np.random.default_rng(seed)
    make = manipulation(faces, rng)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    failed = 0
    for position, index in enumerate(faces.trusted):
        stem = Path(faces.files[index]).stem
        try:
            fake, tag = make(position, rng)
        except ValueError:
            failed += 1
            continue
        write_image(faces.images[index], out / f"{stem}.real.jpg")
        write_image(fake, out / f"{stem}.{tag}.jpg")
        group = faces.groups[index]
        rows += [(f"{stem}.real.jpg", "REAL", group), (f"{stem}.{tag}.jpg", "FAKE", group)]
    _write_labels(out, rows)
    return {
        "real_faces": len(faces.files),
        "without_trusted_mesh": len(faces.files) - len(faces.trusted),
        "failed": failed,
        "pairs_written": len(rows) // 2,
    }


def face_swaps(people: str) -> Callable[[HeldOutFaces, np.random.Generator], Manipulation]:
    """The face swaps of ``people``'s held-out faces (``write_face_swaps``), for ``write_pairs``."""

    def manipulation(faces: HeldOutFaces, rng: np.random.Generator) -> Manipulation:
        if people == "utkface":
            chosen = choose_sources([faces.files[index] for index in faces.trusted], rng)
        else:
            chosen = choose_other_group([faces.groups[index] for index in faces.trusted], rng)

        def make(position: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
            index, source = faces.trusted[position], faces.trusted[chosen[position]]
            blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
            target_mesh, source_mesh = faces.meshes[index].astype(np.float32), faces.meshes[source].astype(np.float32)
            swapped = face_swap.swap_faces(faces.images[index], target_mesh, faces.images[source], source_mesh, blend)
            return swapped, f"swap-{blend}"

        return make

    return manipulation


def reenactments(faces: HeldOutFaces, rng: np.random.Generator) -> Manipulation:
    """The reenactment proxies of held-out faces (``write_reenactments``), for ``write_pairs``."""

    def make(position: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        index = faces.trusted[position]
        region = reenactment.REGIONS[int(rng.integers(len(reenactment.REGIONS)))]
        fake = reenactment.reenact(faces.images[index], faces.meshes[index].astype(np.float32), rng, region)
        return fake, f"reenact-{region}"

    return make


def write_face_swaps(
    out: Path, people: str = "utkface", seed: int = 0, cache_folder: Path | None = Path(".cache")
) -> dict[str, int]:
    """Face swaps between held-out ``people`` (UTKFace: of the same gender and ethnicity and a close age where
    there is one; DFDC: from another source video)."""
    return write_pairs(out, held_out_faces(people, cache_folder), seed, face_swaps(people))


def write_reenactments(
    out: Path, people: str = "utkface", seed: int = 0, cache_folder: Path | None = Path(".cache")
) -> dict[str, int]:
    """Reenactment proxies of held-out ``people``: the mouth or the lower face, half each at random."""
    return write_pairs(out, held_out_faces(people, cache_folder), seed, reenactments)


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
