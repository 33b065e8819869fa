"""Every source of labelled face crops a mixed run trains on, each split so that no person crosses the split.

A mixed run (``train --fakes mixed``) draws from:

- DFDC (``dfdc-faces``): reals and fakes; its second fakes (``dfdc-extra-fakes``, 4,000 other swaps of the same
  source videos) join the fakes. Both split by the same group rule (``datasets.split_by_group``), so a source video
  and every fake made from it stay on one side.
- FaceForensics++ (``ffpp-faces``): YouTube reals and four methods (Deepfakes, Face2Face, FaceSwap,
  NeuralTextures), split by ``group`` (bins of 25 target videos, which keep a target's real and fakes together) at
  ``FFPP_VALIDATION_PERCENT``: a larger share than DFDC's, since FF++ has only 40 groups and a figure per method
  needs enough of them to bootstrap over.
- UTKFace: real photos of the training three quarters (``datasets.split_utkface``); the held-out quarter is never
  trained or selected on. A run that selects on UTKFace too (``utkface_selection``) keeps a tenth of the
  collection out of training for that (``datasets.split_utkface_selection``).

Every crop is decoded straight to the run's input size with area interpolation (all of these are larger than the
128 px a mixed run works at), so every source takes the same path: resolution and resampling history cannot
become the label. ``Pools`` holds the decoded crops by ``(source, kind)``; ``detector.training.mixed_batches``
balances them.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.errors import DatasetError
from detector.training import datasets

logger = logging.getLogger(__name__)

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
FFPP_REAL_METHOD = "youtube"
FFPP_VALIDATION_PERCENT = 30
# The sources of a mixed run, in the order the card lists them.
SOURCES = ("dfdc", "ffpp", "utkface")
REAL = "real"
DFDC_FAKE = "dfdc_fake"
SECOND_FAKE = "dfdc_second_fake"
SELF_BLEND = "self_blend"
# A self-blend of one part of the face only (mouth, lower face or eyes: ``self_blend.BLEND_REGIONS``).
REGION_BLEND = "region_blend"
# A reenactment proxy (``reenactment.reenact``: the mouth or the lower face warped to a new expression). The
# benchmark's reenactment sets are made by the same generator, so for a run that trains on it they measure the
# generator, not generalisation (docs/EXPERIMENTS.md, "Reenactment proxies in training").
REENACTMENT_PROXY = "reenactment_proxy"
# A landmark face swap between two training reals of one source (``face_swap.swap_faces``, the classic graphics
# swap). The benchmark's face-swap sets are made by the same generator, so for a run that trains on it they measure
# the generator, and the reenactment proxies are its never-trained kind (docs/EXPERIMENTS.md, "Graphics swaps in
# training").
FACE_SWAP = "face_swap"
# A mouth transplant (``mouth_transplant.transplant_with_mask``: the mouth or the lower face of another training real
# of the source, placed by a similarity, colour-matched and blended in). No benchmark set is made by it
# (docs/EXPERIMENTS.md, "Mouth transplants in training").
MOUTH_TRANSPLANT = "mouth_transplant"
# The fakes a mixed run makes from a source's reals as it trains, rather than reads.
SYNTHETIC_FAKES = (SELF_BLEND, REGION_BLEND, REENACTMENT_PROXY, FACE_SWAP, MOUTH_TRANSPLANT)
# FF++'s four methods, as a kind of fake a network trained on (mixed runs, on other groups than the benchmark's):
# with FACE_SWAP and REENACTMENT_PROXY, the kinds a card may say it trained on that the benchmark also measures
# (``ship.trained_kinds``).
FFPP_FAKES = "ffpp_fakes"
# FF++'s crops are framed a little looser than the analysis crops and centred above the face (measured with
# scripts/measure_crop_framing.py, 800 crops each: crop side / detector box 1.063 for FF++, 0.994 for DFDC; the
# box centre 0.089 box sizes below the crop centre for FF++, -0.011 for DFDC). Cutting the square of 0.94 of the
# side, as low as the crop allows, brings the margin to 0.999 and the offset to about 0.057 (computed from those
# medians; the crop has no rows below it to centre further).
FFPP_REFRAME = (0.06, 0.03, 0.94)
SOURCE_WORDS = {
    "dfdc": "../shared/data/dfdc-faces (DFDC face crops, 224x224) and ../shared/data/dfdc-extra-fakes (4,000 second "
    "fakes of the same source videos, 160x160), split by source video",
    "ffpp": "../shared/data/ffpp-faces (FaceForensics++ crops, 144x144: YouTube reals, Deepfakes, Face2Face, "
    f"FaceSwap, NeuralTextures), split by group, {FFPP_VALIDATION_PERCENT}% of groups held out",
    "utkface": "../shared/data/utkface (UTKFace real face photos, except the quarter held out for testing)",
}


@dataclass(frozen=True)
class MethodCropSet:
    """A ``CropSet`` with the method that made each crop (``FFPP_REAL_METHOD`` for reals)."""

    crops: datasets.CropSet
    methods: tuple[str, ...]

    def subset(self, mask: np.ndarray) -> MethodCropSet:
        return MethodCropSet(
            self.crops.subset(mask), tuple(m for m, keep in zip(self.methods, mask, strict=True) if keep)
        )


def load_ffpp_faces(shared: Path | None = None) -> MethodCropSet:
    """The FaceForensics++ crops with their methods."""
    root = (shared or datasets.shared_folder()) / "data" / "ffpp-faces"
    crops = datasets.read_labels(root / "labels.csv", root / "faces")
    with (root / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    methods = tuple(row.get("method") or "" for row in rows)
    known = set(FFPP_METHODS) | {FFPP_REAL_METHOD}
    unknown = sorted(set(methods) - known)
    if unknown:
        raise DatasetError(f"{root / 'labels.csv'}: unknown methods {unknown} (expected {sorted(known)})")
    for method, label in zip(methods, crops.labels, strict=True):
        if (method == FFPP_REAL_METHOD) != (label == 0):
            raise DatasetError(f"{root / 'labels.csv'}: method {method!r} with label {'FAKE' if label else 'REAL'}")
    return MethodCropSet(crops, methods)


def split_ffpp(
    ffpp: MethodCropSet, validation_percent: int = FFPP_VALIDATION_PERCENT
) -> tuple[MethodCropSet, MethodCropSet]:
    """FF++ training and validation crops: by group, as DFDC is split, at its own share."""
    mask = np.array([datasets.is_validation_group(g, validation_percent) for g in ffpp.crops.groups], dtype=bool)
    return ffpp.subset(~mask), ffpp.subset(mask)


def load_dfdc_extra_fakes(shared: Path | None = None) -> datasets.CropSet:
    root = (shared or datasets.shared_folder()) / "data" / "dfdc-extra-fakes"
    crops = datasets.read_labels(root / "labels.csv", root / "faces")
    if crops.labels.min() != 1:
        raise DatasetError(f"{root / 'labels.csv'}: the second fakes must all be FAKE")
    return crops


def balanced_weights(
    counts: dict[tuple[str, str], int], shares: dict[str, float] | None = None
) -> dict[tuple[str, str], float]:
    """The weight of one crop of each ``(source, kind)`` group of ``counts`` crops (kind ``REAL`` or a kind of
    fake), so that the sources weigh as ``shares`` gives them out (None: alike), each source's reals as much as its
    fakes, and its kinds of fake alike; the mean weight of a crop is 1. Used by a mixed run's selection loss and by
    a calibration fitted on several sources, so that both balance the same way."""
    names = sorted({source for source, _ in counts})
    given = {name: 1.0 for name in names} if shares is None else {name: shares[name] for name in names}
    total = sum(given.values())
    weights: dict[tuple[str, str], float] = {}
    for name in names:
        share = given[name] / total
        fakes = [kind for (source, kind) in counts if source == name and kind != REAL]
        if (name, REAL) in counts:
            weights[(name, REAL)] = 0.5 * share / counts[(name, REAL)]
        for kind in fakes:
            weights[(name, kind)] = 0.5 * share / len(fakes) / counts[(name, kind)]
    scale = sum(counts.values()) / sum(weights[key] * counts[key] for key in weights)
    return {key: value * scale for key, value in weights.items()}


@dataclass(frozen=True)
class Pools:
    """Decoded crops ``(N, S, S, 3) uint8 RGB`` by ``(source, kind)``: kind ``"real"``, ``"dfdc_fake"`` or an FF++
    method. ``groups`` gives each crop's group (source video, FF++ bin or photo), so that a split can be checked."""

    images: dict[tuple[str, str], np.ndarray]
    groups: dict[tuple[str, str], tuple[str, ...]]

    def count(self) -> int:
        return sum(len(images) for images in self.images.values())

    def describe(self) -> str:
        return ", ".join(f"{source}/{kind} {len(images)}" for (source, kind), images in self.images.items())


def _decode(crops: datasets.CropSet, size: int, cache: Path | None, source: str) -> np.ndarray:
    reframe = FFPP_REFRAME if source == "ffpp" else None
    return datasets.decode_images(crops.root, crops.files, size, cache, reframe)


def _limited(crops: datasets.CropSet, limit: int | None) -> datasets.CropSet:
    return crops if not limit else crops.subset(np.arange(len(crops)) < limit)


def mixed_sets(
    validation: bool,
    dfdc_validation_percent: int = datasets.VALIDATION_PERCENT,
    limit: int | None = None,
    utkface_selection: bool = False,
) -> dict[tuple[str, str], datasets.CropSet]:
    """The crops of every source's training side (``validation=False``) or validation side, by ``(source, kind)``,
    not decoded; DFDC's second fakes under ``(source, SECOND_FAKE)`` (they live in another folder).

    UTKFace's held-out quarter is a benchmark set (unseen real people), never a selection set. With
    ``utkface_selection`` the validation side has UTKFace reals too, a tenth of the collection that the training
    side then goes without (``datasets.split_utkface_selection``); without it, the validation side has no UTKFace.
    ``limit`` caps every set (smoke runs and tests)."""
    side = 1 if validation else 0
    dfdc = datasets.split_by_group(datasets.load_dfdc_faces(), dfdc_validation_percent)[side]
    extra = datasets.split_by_group(load_dfdc_extra_fakes(), dfdc_validation_percent)[side]
    ffpp = split_ffpp(load_ffpp_faces())[side]
    sets: dict[tuple[str, str], datasets.CropSet] = {
        ("dfdc", REAL): dfdc.subset(dfdc.labels == 0),
        ("dfdc", DFDC_FAKE): dfdc.subset(dfdc.labels == 1),
        ("dfdc", SECOND_FAKE): extra,
        ("ffpp", REAL): ffpp.subset(np.array([m == FFPP_REAL_METHOD for m in ffpp.methods])).crops,
    }
    for method in FFPP_METHODS:
        sets[("ffpp", method)] = ffpp.subset(np.array([m == method for m in ffpp.methods])).crops
    if utkface_selection or not validation:
        utkface = datasets.split_utkface(datasets.load_utkface())[0]
        sets[("utkface", REAL)] = datasets.split_utkface_selection(utkface)[side] if utkface_selection else utkface
    sets = {key: _limited(crops, limit) for key, crops in sets.items()}
    for (source, kind), crops in sets.items():
        if not len(crops):
            raise DatasetError(f"no {source} {kind} crops on the {'validation' if validation else 'training'} side")
    return sets


def mixed_pools(
    size: int,
    cache: Path | None,
    validation: bool,
    dfdc_validation_percent: int = datasets.VALIDATION_PERCENT,
    limit: int | None = None,
    utkface_selection: bool = False,
) -> Pools:
    """``mixed_sets`` decoded at ``size``, DFDC's two fake sets as one kind."""
    images: dict[tuple[str, str], np.ndarray] = {}
    groups: dict[tuple[str, str], tuple[str, ...]] = {}
    for key, crops in mixed_sets(validation, dfdc_validation_percent, limit, utkface_selection).items():
        images[key] = _decode(crops, size, cache, key[0])
        groups[key] = crops.groups
    # DFDC's first and second fakes are one kind to the batches: the same videos' swaps, made by DFDC's methods.
    images[("dfdc", DFDC_FAKE)] = np.concatenate([images[("dfdc", DFDC_FAKE)], images.pop(("dfdc", SECOND_FAKE))])
    groups[("dfdc", DFDC_FAKE)] = groups[("dfdc", DFDC_FAKE)] + groups.pop(("dfdc", SECOND_FAKE))
    pools = Pools(images, groups)
    logger.info("%s pools: %s", "validation" if validation else "training", pools.describe())
    return pools
