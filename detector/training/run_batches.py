"""What a training run reads: its batches (``training_batches``, what ``config.fakes`` asks for, with the extra
reals) and the batches that select its epochs (``validation_batches``, what ``config.select_on`` names), from the
crops ``detector.training.train`` loads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from detector.training import (
    blend_boundary,
    datasets,
    ffpp_pairs,
    landmarks,
    mixed_batches,
    selection_set,
    self_blend_batches,
    sharpness_match,
    sources,
)
from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy
from detector.training.training_config import TrainingConfig

logger = logging.getLogger(__name__)


class CropBatches(keras.utils.PyDataset):
    """Shuffled, augmented batches from an in-memory ``(N, S, S, 3) uint8`` array."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        policy: AugmentationPolicy,
        seed: int,
        shuffle: bool,
    ) -> None:
        super().__init__()
        self.images = images
        self.labels = labels.astype(np.float32)
        self.batch_size = batch_size
        self.policy = policy
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(images))
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[chosen]
        if self.policy is not NO_AUGMENTATION:
            batch = self.policy.apply_batch(batch, self.rng)
        return batch.astype(np.float32), self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


class StepEpochs(keras.utils.PyDataset):
    """Epochs of ``steps`` batches, drawn on through the passes of ``batches``, a dataset whose epoch is one pass.

    Keras, given ``steps_per_epoch`` and a dataset of another length, runs on through the dataset across epochs and
    cuts short the epoch in which a pass ends (measured: dfdc_first_utk's fourth epoch, 109 batches of 300); and it
    calls the dataset's ``on_epoch_end`` (a reshuffle) after each of its own epochs, in the middle of a pass. Here
    an epoch is ``steps`` batches: batch ``i`` of epoch ``e`` is batch ``(e * steps + i) % len(batches)`` of the
    current pass, so Keras may read an epoch's batches in any order (``fit`` shuffles them), and ``batches`` starts
    a new pass (``on_epoch_end``) after the epoch in which the last ended. That epoch reads the first batches of the
    pass again (with fresh augmentation) where it ran past the end.
    """

    def __init__(self, batches: keras.utils.PyDataset, steps: int) -> None:
        super().__init__()
        self.batches = batches
        self.steps = steps
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> Any:
        return self.batches[(self.epoch * self.steps + index) % len(self.batches)]

    def on_epoch_end(self) -> None:
        passes_before = self.epoch * self.steps // len(self.batches)
        self.epoch += 1
        if self.epoch * self.steps // len(self.batches) > passes_before:
            self.batches.on_epoch_end()


def load_extra_reals(config: TrainingConfig) -> datasets.CropSet | None:
    """The extra real crops (``config.extra_reals``) to train on, or None.

    Validation stays the DFDC split, so every run is measured on the same crops. A quarter of UTKFace
    (``datasets.split_utkface``) is never trained on: it measures false positives on unseen people, for runs
    with and without it alike. ``"utkface_except_selection"`` leaves out the selection tenth as well
    (``datasets.split_utkface_selection``). ``limit`` caps the rest too (smoke runs).
    """
    if config.extra_reals is None:
        return None
    extra, _ = datasets.split_utkface(datasets.load_utkface())
    if config.extra_reals == "utkface_except_selection":
        extra, _ = datasets.split_utkface_selection(extra)
    if config.limit:
        extra = extra.subset(np.arange(len(extra)) < config.limit)
    return extra


def training_batches(
    config: TrainingConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    initial_epoch: int,
    policy: AugmentationPolicy,
) -> keras.utils.PyDataset:
    """The training batches ``config.fakes`` asks for, with the extra reals added.

    ``"dfdc"`` (the default) keeps the DFDC crops' own real/fake mix (``CropBatches``); ``"sbi"`` and ``"both"``
    make balanced batches of reals and self-blended (and DFDC) fakes from the reals' face meshes, computed once
    and cached beside the image cache (``landmarks.precompute_landmarks``).
    """
    seed = config.seed + initial_epoch
    if config.fakes == "mixed":
        pools = sources.mixed_pools(
            config.input_size,
            Path(config.cache_folder),
            False,
            config.validation_percent,
            config.limit,
            config.selects_on_utkface,
        )
        batches = mixed_batches.MixedBatches(
            pools,
            config.batch_size,
            policy,
            seed,
            Path(config.cache_folder),
            config.steps_per_epoch,
            mixed_batches.MIXES[config.mix or "even"],
            boundary_side=config.resolution // blend_boundary.MAP_STRIDE if config.boundary_weight else None,
            known_masks=known_masks(pools, Path(config.cache_folder), config),
            map_target="region" if config.change_masks else "seam",
            paired=bool(config.paired),
            partners=ffpp_partners(pools, Path(config.cache_folder)) if config.paired else None,
        )
        if config.match_sharpness:
            # Sampled with the run's own seed, so a resumed run matches as it started; a smoke run's limit caps it.
            batches.match_sharpness(config.seed, sharpness_match.sample_count(config.limit))
        return batches
    extra_set = load_extra_reals(config)
    extra_images = None
    if extra_set is not None:
        extra_images = datasets.decode_images(
            extra_set.root, extra_set.files, config.input_size, Path(config.cache_folder)
        )
    if config.fakes == "dfdc":
        if extra_images is not None:
            train_images = np.concatenate([train_images, extra_images])
            train_labels = np.concatenate([train_labels, np.zeros(len(extra_images), train_labels.dtype)])
        return in_steps(CropBatches(train_images, train_labels, config.batch_size, policy, seed, shuffle=True), config)
    reals = train_images[train_labels == 0]
    if extra_images is not None:
        reals = np.concatenate([reals, extra_images])
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d reals", done, total),
    )
    dfdc_fakes = train_images[train_labels == 1] if config.fakes == "both" else None
    return in_steps(
        self_blend_batches.SelfBlendBatches(
            reals, real_landmarks, config.batch_size, policy, seed, config.fakes, dfdc_fakes
        ),
        config,
    )


def _with_own_reals(
    pools: sources.Pools, cache: Path, pairing: Callable[..., np.ndarray], fake_keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], np.ndarray]:
    """``pairing(fakes, fake_groups, reals, real_groups, cache)`` for each fake pool of ``fake_keys`` the pools
    hold, against the reals of its own source."""
    results = {}
    for key in fake_keys:
        if key in pools.images:
            reals = (key[0], sources.REAL)
            results[key] = pairing(
                pools.images[key], pools.groups[key], pools.images[reals], pools.groups[reals], cache
            )
    return results


FFPP_FAKES = tuple(("ffpp", method) for method in sources.FFPP_METHODS)


def ffpp_masks(pools: sources.Pools, cache: Path) -> dict[tuple[str, str], np.ndarray]:
    """Each FF++ method pool's change masks from its fakes' aligned real pairs (``ffpp_pairs.pair_masks``)."""
    return _with_own_reals(pools, cache, ffpp_pairs.pair_masks, FFPP_FAKES)


def dfdc_masks(pools: sources.Pools, cache: Path) -> dict[tuple[str, str], np.ndarray]:
    """DFDC's fakes' change masks from the real of their group (their source video), aligned as FF++'s are
    (``ffpp_pairs.pair_masks``)."""
    return _with_own_reals(pools, cache, ffpp_pairs.pair_masks, [("dfdc", sources.DFDC_FAKE)])


def known_masks(pools: sources.Pools, cache: Path, config: TrainingConfig) -> dict[tuple[str, str], np.ndarray] | None:
    """The pool fakes' masks a boundary run learns from: FF++'s with ``ffpp_seams``; FF++'s and DFDC's with
    ``change_masks``; none otherwise."""
    if config.change_masks:
        return {**ffpp_masks(pools, cache), **dfdc_masks(pools, cache)}
    return ffpp_masks(pools, cache) if config.ffpp_seams else None


def ffpp_partners(pools: sources.Pools, cache: Path) -> dict[tuple[str, str], np.ndarray]:
    """Each FF++ method pool's fakes' aligned real pairs, as indices into the FF++ reals (``ffpp_pairs.pair_reals``);
    DFDC's fakes find theirs by group (``mixed_batches.MixedBatches``)."""
    return _with_own_reals(pools, cache, ffpp_pairs.pair_reals, FFPP_FAKES)


def in_steps(batches: keras.utils.PyDataset, config: TrainingConfig) -> keras.utils.PyDataset:
    """``batches`` in epochs of ``config.steps_per_epoch`` batches (``StepEpochs``), or as they are without it."""
    if config.steps_per_epoch is None or config.steps_per_epoch == len(batches):
        return batches
    return StepEpochs(batches, config.steps_per_epoch)


def validation_batches(
    config: TrainingConfig, validation_images: np.ndarray, validation_labels: np.ndarray
) -> keras.utils.PyDataset:
    """The batches whose loss selects the best epoch (``config.select_on``), the same every epoch, unaugmented."""
    if config.select_on == "dfdc":
        return CropBatches(validation_images, validation_labels, 64, NO_AUGMENTATION, config.seed, shuffle=False)
    if config.select_on in ("mixed", "mixed_utkface"):
        cache = Path(config.cache_folder)
        pools = sources.mixed_pools(
            config.input_size, cache, True, config.validation_percent, config.limit, config.selects_on_utkface
        )
        if config.selects_on_utkface:
            pools = selection_set.with_fixed_self_blends(pools, "utkface", config.seed, cache)
        return selection_set.WeightedSelection(pools, mix=mixed_batches.MIXES[config.mix or "even"])
    reals = validation_images[validation_labels == 0]
    real_landmarks = landmarks.precompute_landmarks(
        reals,
        Path(config.cache_folder),
        progress=lambda done, total: logger.info("face mesh: %d of %d validation reals", done, total),
    )
    return self_blend_batches.SelfBlendBatches(
        reals, real_landmarks, 64, NO_AUGMENTATION, config.seed, fakes="sbi", fixed=True
    )
