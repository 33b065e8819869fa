"""The set that selects a mixed run's epochs: every validation crop once, in a fixed order, weighted so that each
source weighs as the run's mix weighs it (``mixed_batches.MIXES``), its reals as much as its fakes, and each kind of
a source's fakes alike; a source that brings no fakes of its own (UTKFace's photos) gets fixed self-blends of its
reals, the same every epoch and session.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from detector.training import landmarks
from detector.training.mixed_batches import MIXES, Mix
from detector.training.self_blend import DEFAULT_CONFIG, self_blend
from detector.training.sources import REAL, SELF_BLEND, Pools, balanced_weights

logger = logging.getLogger(__name__)


def selection_weights(pools: Pools, mix: Mix = MIXES["even"]) -> dict[tuple[str, str], float]:
    """The weight of one crop of each pool, so that every source's reals weigh as much as its fakes, the sources
    weigh as ``mix`` shares them out (among those ``pools`` has), and every kind of a source's fakes alike; the
    mean weight of a crop is 1 (``sources.balanced_weights``)."""
    return balanced_weights({key: len(images) for key, images in pools.images.items()}, mix.shares)


def with_fixed_self_blends(pools: Pools, source: str, seed: int, cache_folder: Path | None = None) -> Pools:
    """``pools`` with one self-blend (the default kind, whole face) of each of ``source``'s reals that has a trusted
    face mesh, made once with a generator seeded by ``(seed, index)``, as ``(source, SELF_BLEND)``: the fakes of a
    source that brings no fakes of its own to a selection set, so that it weighs its reals against fakes as every
    other source does. The same crops every epoch and every session."""
    reals = pools.images[(source, REAL)]
    meshes = landmarks.precompute_landmarks(
        reals,
        cache_folder,
        progress=lambda done, total: logger.info("face mesh: %d of %d %s selection reals", done, total, source),
    )
    trusted = np.flatnonzero(np.isfinite(meshes).all(axis=(1, 2)))
    if not len(trusted):
        raise ValueError(f"no {source} selection real has a trusted face mesh: nothing to self-blend")
    blends = np.stack(
        [self_blend(reals[i], meshes[i], np.random.default_rng([seed, int(i)]), DEFAULT_CONFIG) for i in trusted]
    )
    groups = pools.groups[(source, REAL)]
    return Pools(
        {**pools.images, (source, SELF_BLEND): blends},
        {**pools.groups, (source, SELF_BLEND): tuple(groups[i] for i in trusted)},
    )


class WeightedSelection(keras.utils.PyDataset):
    """Every crop of ``pools`` once, in a fixed order, unaugmented: ``(images, labels, sample weights)``."""

    def __init__(self, pools: Pools, batch_size: int = 64, mix: Mix = MIXES["even"]) -> None:
        super().__init__()
        weights = selection_weights(pools, mix)
        keys = list(pools.images)
        self.images = np.concatenate([pools.images[key] for key in keys])
        self.labels = np.concatenate(
            [np.full(len(pools.images[key]), float(key[1] != REAL), np.float32) for key in keys]
        )
        self.weights = np.concatenate([np.full(len(pools.images[key]), weights[key], np.float32) for key in keys])
        self.batch_size = batch_size

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.images[part].astype(np.float32), self.labels[part], self.weights[part]
