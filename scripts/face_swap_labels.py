"""Writes a labelled set of face swaps no model here has seen the like of, for ``python -m detector evaluate``.

    python -m scripts.face_swap_labels OUT_FOLDER [--people utkface|dfdc] [--seed 0]

Each real face once as itself (REAL) and once with its face swapped for another person's (FAKE;
``detector.face_swap``, alpha or Poisson blending, half each). The people (``--people``):

- ``utkface`` (default): the held-out quarter of UTKFace (``datasets.split_utkface``), which no model trains on;
  the face comes from another held-out person of the same gender and ethnicity and an age within ``AGE_GAP``
  years where there is one. Other cameras and other people than DFDC's.
- ``dfdc``: the real crops of the DFDC validation split (no model trains on its groups); the face comes from
  another group's real crop. DFDC's own cameras and framing, so only the manipulation is new: no model can
  tell these apart by the look of the collection, as UTKFace-trained ones can.

Both kinds are written the same way (224 px, JPEG quality ``JPEG_QUALITY``), so nothing but the swap tells them
apart. Faces whose mesh is not trusted are left out. ``OUT_FOLDER/labels.csv`` has ``file,label,group``; the group
is the target face's, so the bootstrap resamples a face and its swap together. Then, per model::

    python -m detector evaluate --crops OUT_FOLDER --labels OUT_FOLDER/labels.csv --model NAME \\
        --record unseen_face_swaps --describe "$(python -m scripts.face_swap_labels --describe)"

(for ``--people dfdc``: ``--record dfdc_face_swaps`` and ``--describe`` with ``--people dfdc``).
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

import cv2
import numpy as np

from detector.training import datasets, face_swap, landmarks

# What each set is, as the cards' metrics say it (evaluate --describe), and the key it is recorded under.
_WHO = {
    "utkface": ("UTKFace photos of people no model here was trained on", "photos"),
    "dfdc": (
        "the real crops of the DFDC validation split (people no model here was trained on, DFDC's cameras)",
        "crops",
    ),
}
DESCRIPTIONS = {
    people: f"face swaps made here between {who} (landmark warp, colour matching, alpha or Poisson blending: a "
    f"method none of the models was trained on), and the same {what} unswapped"
    for people, (who, what) in _WHO.items()
}
DESCRIPTION = DESCRIPTIONS["utkface"]
RECORD_KEYS = {"utkface": "unseen_face_swaps", "dfdc": "dfdc_face_swaps"}
AGE_GAP = 10
JPEG_QUALITY = 90
SIDE = 224


def _traits(name: str) -> tuple[int, str, str] | None:
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
    traits = [_traits(name) for name in names]
    everyone = list(range(len(names)))
    return [
        int(rng.choice(_closest_kind(own, everyone[:index] + everyone[index + 1 :], traits)))
        for index, own in enumerate(traits)
    ]


def choose_other_group(groups: list[str], rng: np.random.Generator) -> list[int]:
    """For each face, the index of a face from another group (another source video) to take the face from."""
    groups_array = np.asarray(groups)
    return [int(rng.choice(np.flatnonzero(groups_array != group))) for group in groups]


def _people(people: str, cache_folder: Path | None) -> tuple[list[str], np.ndarray, list[str]]:
    """The real faces to swap: file names, ``(N, SIDE, SIDE, 3) uint8`` crops and a group per face."""
    if people == "utkface":
        chosen = datasets.split_utkface(datasets.load_utkface())[1]
    elif people == "dfdc":
        validation = datasets.split_by_group(datasets.load_dfdc_faces(), datasets.VALIDATION_PERCENT)[1]
        chosen = validation.subset(validation.labels == 0)
    else:
        raise ValueError(f"people must be one of {tuple(_WHO)}, got {people!r}")
    images = datasets.decode_images(chosen.root, chosen.files, SIDE, cache_folder)
    return list(chosen.files), images, list(chosen.groups)


def _write(image: np.ndarray, path: Path) -> None:
    encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]
    path.write_bytes(encoded.tobytes())


def write_set(
    out: Path, seed: int = 0, cache_folder: Path | None = Path(".cache"), people: str = "utkface"
) -> dict[str, int]:
    """Writes the faces, their swaps and ``labels.csv`` into ``out``; returns how many of each."""
    files, images, groups = _people(people, cache_folder)
    meshes = landmarks.precompute_landmarks(images, cache_folder)
    trusted = np.flatnonzero(np.isfinite(meshes.astype(np.float32)).all(axis=(1, 2)))
    rng = np.random.default_rng(seed)
    if people == "utkface":
        sources = choose_sources([files[index] for index in trusted], rng)
    else:
        sources = choose_other_group([groups[index] for index in trusted], rng)
    out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for position, index in enumerate(trusted):
        source = trusted[sources[position]]
        blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
        stem = Path(files[index]).stem
        try:
            target_mesh, source_mesh = meshes[index].astype(np.float32), meshes[source].astype(np.float32)
            swapped = face_swap.swap_faces(images[index], target_mesh, images[source], source_mesh, blend)
        except ValueError:
            failed += 1
            continue
        _write(images[index], out / f"{stem}.real.jpg")
        _write(swapped, out / f"{stem}.swap-{blend}.jpg")
        rows += [(f"{stem}.real.jpg", "REAL", groups[index]), (f"{stem}.swap-{blend}.jpg", "FAKE", groups[index])]
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group"])
        writer.writerows(rows)
    return {
        "real_faces": len(files),
        "without_trusted_mesh": len(files) - len(trusted),
        "swap_failed": failed,
        "pairs_written": len(rows) // 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--people", choices=sorted(_WHO), default="utkface", help="whose faces are swapped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--describe", action="store_true", help="print the set's description for evaluate")
    arguments = parser.parse_args()
    if arguments.describe:
        print(DESCRIPTIONS[arguments.people])
        return
    if arguments.out is None:
        parser.error("give OUT_FOLDER (or --describe)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    counts = write_set(arguments.out, arguments.seed, people=arguments.people)
    print(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in counts.items()), f"-> {arguments.out}")


if __name__ == "__main__":
    main()
