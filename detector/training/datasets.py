"""Labelled face crops for training and evaluation.

The DFDC crops in ``../shared/data/dfdc-faces`` are split into training and validation **by group** (the real
source video a fake was made from), never by image, so the same person and scene never appear on both sides. The
split is a hash of the group name, so it is the same on every computer and every time.

Images are decoded once into a ``(N, S, S, 3) uint8 RGB`` array and cached as ``.npy`` next to the project
(``.cache/``, ignored by git) so that a resumed run does not decode 29,000 JPEGs again.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.errors import DatasetError

logger = logging.getLogger(__name__)

LABELS = {"REAL": 0, "FAKE": 1}
# How the training crops are framed, as the analysis must reproduce it: a square of this many times the face
# detector's box (its larger side), found by this detector (measured on the DFDC crops: docs/DESIGN.md, "Crop
# framing"). Written into every model card; the analysis crops by the card.
CROP_FACE_MARGIN = 1.0
CROP_FACE_DETECTOR = "full_range"
DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared"


def shared_folder() -> Path:
    """The shared data folder: ``$DETECTOR_SHARED`` or ``../shared`` beside the project."""
    return Path(os.environ.get("DETECTOR_SHARED", DEFAULT_SHARED))


@dataclass(frozen=True)
class CropSet:
    """Labelled crops: ``files[i]`` has ``labels[i]`` (1 = fake) and belongs to ``groups[i]``."""

    root: Path
    files: tuple[str, ...]
    labels: np.ndarray
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        if not (len(self.files) == len(self.labels) == len(self.groups)):
            raise ValueError("files, labels and groups must have the same length")

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, mask: np.ndarray) -> CropSet:
        indices = np.flatnonzero(mask)
        return CropSet(
            root=self.root,
            files=tuple(self.files[i] for i in indices),
            labels=self.labels[indices],
            groups=tuple(self.groups[i] for i in indices),
        )


def read_labels(labels_csv: Path, image_folder: Path) -> CropSet:
    """Reads ``file,label[,group]`` rows; a missing group column makes each file its own group."""
    if not labels_csv.is_file():
        raise DatasetError(f"label file not found: {labels_csv}")
    files: list[str] = []
    labels: list[int] = []
    groups: list[str] = []
    with labels_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
            raise DatasetError(f"{labels_csv} needs the columns file,label (found {reader.fieldnames})")
        for row in reader:
            label = row["label"].strip().upper()
            if label not in LABELS:
                raise DatasetError(f"{labels_csv}: label must be REAL or FAKE, got {row['label']!r}")
            files.append(row["file"])
            labels.append(LABELS[label])
            groups.append(row.get("group") or row["file"])
    if not files:
        raise DatasetError(f"{labels_csv} has no rows")
    return CropSet(root=image_folder, files=tuple(files), labels=np.asarray(labels, np.int32), groups=tuple(groups))


def load_dfdc_faces(shared: Path | None = None) -> CropSet:
    root = (shared or shared_folder()) / "data" / "dfdc-faces"
    return read_labels(root / "labels.csv", root / "faces")


def load_utkface(shared: Path | None = None) -> CropSet:
    """UTKFace photos, all real; each file is its own group."""
    folder = (shared or shared_folder()) / "data" / "utkface" / "faces"
    if not folder.is_dir():
        raise DatasetError(f"UTKFace folder not found: {folder}")
    files = tuple(sorted(name for name in os.listdir(folder) if name.lower().endswith(".jpg")))
    return CropSet(root=folder, files=files, labels=np.zeros(len(files), np.int32), groups=files)


UTKFACE_HELD_OUT_PERCENT = 25


def split_utkface(photos: CropSet, held_out_percent: int = UTKFACE_HELD_OUT_PERCENT) -> tuple[CropSet, CropSet]:
    """UTKFace photos to train on, and those never trained on (by the file name's SHA-1, as groups are split):
    the held-out ones measure how often real faces of people unlike DFDC's are called fake."""
    return split_by_group(photos, held_out_percent)


# A tenth of the collection, from the training three quarters, that a run may keep out of training to choose its
# epochs on real faces unlike DFDC's (``split_utkface_selection``, ``train --select-on mixed-utkface``).
UTKFACE_SELECTION_PERCENT = 10


def split_utkface_selection(training: CropSet) -> tuple[CropSet, CropSet]:
    """The UTKFace training photos (``split_utkface``'s first part) split again: those to train on, and those kept
    for selection, the photos whose SHA-1 band lies just above the held-out quarter's. Neither touches the held-out
    quarter, which stays the benchmark's unseen people."""
    band = UTKFACE_HELD_OUT_PERCENT + UTKFACE_SELECTION_PERCENT
    if any(is_validation_group(group, UTKFACE_HELD_OUT_PERCENT) for group in training.groups):
        raise ValueError("split_utkface_selection takes the training photos, without the held-out quarter")
    mask = np.array([is_validation_group(group, band) for group in training.groups], dtype=bool)
    return training.subset(~mask), training.subset(mask)


def is_validation_group(group: str, validation_percent: int) -> bool:
    """Stable split: the group's SHA-1 modulo 100, below ``validation_percent``, is validation."""
    digest = hashlib.sha1(group.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 100 < validation_percent


# The validation groups are halved again: the calibration half fits calibrations and thresholds, the other half
# (the report half) measures them (``detector.shipping.calibrate``; the benchmark measures a source a model's
# calibration was fitted on on its report half only).
CALIBRATION_HALF_SALT = "calibration-half:"


def in_calibration_half(group: str) -> bool:
    """Stable half of the validation groups: the salted SHA-1 of the group is even. Independent of the
    train/validation split (``is_validation_group``), which hashes the group without the salt."""
    return int(hashlib.sha1((CALIBRATION_HALF_SALT + group).encode("utf-8")).hexdigest()[:8], 16) % 2 == 0


VALIDATION_PERCENT = 15
# How cards and the ensemble table name the data their validation numbers come from.
VALIDATION_DATA = "DFDC face crops, group-split validation set, one crop each"


def split_by_group(crops: CropSet, validation_percent: int = VALIDATION_PERCENT) -> tuple[CropSet, CropSet]:
    """Training and validation sets; no group is on both sides."""
    if not 0 < validation_percent < 100:
        raise ValueError(f"validation_percent must be in (0, 100), got {validation_percent}")
    mask = np.array([is_validation_group(group, validation_percent) for group in crops.groups], dtype=bool)
    return crops.subset(~mask), crops.subset(mask)


def read_image(path: Path, size: int, reframe: tuple[float, float, float] | None = None) -> np.ndarray:
    """One image as ``(size, size, 3) uint8 RGB``, resized with area interpolation (what the models expect).

    ``reframe`` ``(top, left, side)``, fractions of the image's side, first cuts that square out of it: to bring a
    collection's framing to the one the analysis crops with (``detector.training.sources``)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read image {path}")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if reframe is not None:
        height, width = image.shape[:2]
        top, left, side = reframe
        y0, x0 = round(top * height), round(left * width)
        y1, x1 = min(height, y0 + round(side * height)), min(width, x0 + round(side * width))
        image = image[y0:y1, x0:x1]
    if image.shape[0] != size or image.shape[1] != size:
        interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
        image = cv2.resize(image, (size, size), interpolation=interpolation)
    return image


def decode_images(
    root: Path,
    files: Sequence[str],
    size: int,
    cache_folder: Path | None = None,
    reframe: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """All images as one ``(N, size, size, 3) uint8 RGB`` array (``read_image``), cached as ``.npy`` when a folder
    is given."""
    cache_path = None
    if cache_folder is not None:
        framing = f"|{reframe}" if reframe is not None else ""
        key = hashlib.sha1(("\n".join(files) + f"|{root}|{size}{framing}").encode()).hexdigest()[:16]
        cache_path = cache_folder / f"images-{size}-{key}.npy"
        if cache_path.is_file():
            logger.info("loading cached images from %s", cache_path)
            return np.load(cache_path, mmap_mode=None)
    images = np.empty((len(files), size, size, 3), np.uint8)
    for position, name in enumerate(files):
        images[position] = read_image(root / name, size, reframe)
        if position and position % 5000 == 0:
            logger.info("decoded %d of %d images", position, len(files))
    if cache_path is not None:
        save_cache(cache_path, images)
    return images


def save_cache(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (``.npy``) so that no reader ever sees it half written: two runs beside each
    other share ``.cache/``, and the second may look for a file while the first is still writing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as file:
            np.save(file, array)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk or an interrupt leaves no stray file behind
        raise


def dfdc_validation(validation_percent: int, size: int, cache_folder: Path | None = None) -> tuple[CropSet, np.ndarray]:
    """The DFDC validation split (``split_by_group`` at ``validation_percent``) and its crops decoded at ``size``:
    what model cards are measured on."""
    _, validation = split_by_group(load_dfdc_faces(), validation_percent)
    return validation, decode_images(validation.root, validation.files, size, cache_folder)
