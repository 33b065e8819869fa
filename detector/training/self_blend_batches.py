"""Balanced training batches of real crops and fakes: self-blended (``detector.self_blend``), DFDC, or both.

Each batch is half real crops and half fakes, labelled 0 and 1. With ``fakes="sbi"`` the fakes are self-blends of
the batch's own reals (the method's pairing: the model sees the same face with and without the blend, so only the
blend can tell them apart); a real without a trusted face mesh is replaced by a random real that has one. With
``"dfdc"`` the fakes are DFDC fake crops, and with ``"both"`` half of the fake half is each. The augmentation
policy is applied after blending, to reals and fakes alike.

Randomness comes from a generator seeded by ``(seed, epoch, batch index)``, so a batch is the same whatever order
Keras asks for it in.
"""

from __future__ import annotations

import keras
import numpy as np

from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy
from detector.training.self_blend import DEFAULT_CONFIG, SelfBlendConfig, self_blend

FAKE_SOURCES = ("dfdc", "sbi", "both")


class SelfBlendBatches(keras.utils.PyDataset):
    """Batches ``(images (B, S, S, 3) float32 0-255 RGB, labels (B,) float32)``, half real (0) and half fake (1).

    ``reals`` is ``(R, S, S, 3) uint8 RGB``; ``real_landmarks`` their face meshes ``(R, 468, 2)`` (any float
    dtype; a row with NaN means no trusted mesh: that real is never blended). ``dfdc_fakes`` ``(F, S, S, 3) uint8``
    is required for ``fakes`` ``"dfdc"`` and ``"both"``. An epoch shows every real once; DFDC fakes are drawn in a
    new random order each epoch, cycling when there are fewer than needed. ``batch_size`` must be even; the last
    batch may be smaller (still balanced). ``fixed`` keeps every epoch's batches the same (a validation set).
    """

    def __init__(
        self,
        reals: np.ndarray,
        real_landmarks: np.ndarray | None,
        batch_size: int,
        policy: AugmentationPolicy,
        seed: int,
        fakes: str = "sbi",
        dfdc_fakes: np.ndarray | None = None,
        blend_config: SelfBlendConfig = DEFAULT_CONFIG,
        fixed: bool = False,
    ) -> None:
        super().__init__()
        if fakes not in FAKE_SOURCES:
            raise ValueError(f"fakes must be one of {FAKE_SOURCES}, got {fakes!r}")
        if batch_size < 2 or batch_size % 2:
            raise ValueError(f"batch_size must be an even number of at least 2, got {batch_size}")
        if reals.ndim != 4 or reals.dtype != np.uint8 or len(reals) == 0:
            raise ValueError(f"reals must be a non-empty (R, S, S, 3) uint8 array, got {reals.shape} {reals.dtype}")
        self.valid = np.zeros(len(reals), bool)
        if fakes != "dfdc":
            if real_landmarks is None or len(real_landmarks) != len(reals):
                raise ValueError("real_landmarks must give one face mesh per real for self-blended fakes")
            self.valid = np.isfinite(real_landmarks).all(axis=(1, 2))
            if not self.valid.any():
                raise ValueError("no real has a trusted face mesh: nothing to self-blend")
        if fakes != "sbi" and (dfdc_fakes is None or len(dfdc_fakes) == 0):
            raise ValueError(f"fakes={fakes!r} needs DFDC fake crops (dfdc_fakes)")
        self.reals = reals
        self.real_landmarks = real_landmarks
        self.dfdc_fakes = dfdc_fakes
        self.half = batch_size // 2
        self.policy = policy
        self.seed = seed
        self.fakes = fakes
        self.blend_config = blend_config
        self.valid_indices = np.flatnonzero(self.valid)
        self.fixed = fixed
        self.epoch = 0
        self._shuffle()

    def _shuffle(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.order = rng.permutation(len(self.reals))
        self.fake_order = rng.permutation(len(self.dfdc_fakes)) if self.dfdc_fakes is not None else None

    def __len__(self) -> int:
        return int(np.ceil(len(self.reals) / self.half))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (0-{len(self) - 1})")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        chosen = self.order[index * self.half : (index + 1) * self.half]
        count = len(chosen)
        if self.fakes == "sbi":
            blend_count = count
        elif self.fakes == "dfdc":
            blend_count = 0
        else:
            blend_count = count // 2 + int(count % 2 and rng.random() < 0.5)
        fakes = [self._blend(real_index, rng) for real_index in chosen[:blend_count]]
        dfdc_count = count - blend_count
        if dfdc_count:
            positions = (index * self.half + np.arange(dfdc_count)) % len(self.fake_order)
            fakes.extend(self.dfdc_fakes[self.fake_order[positions]])
        images = np.concatenate([self.reals[chosen], np.stack(fakes)])
        if self.policy is not NO_AUGMENTATION:
            images = self.policy.apply_batch(images, rng)
        labels = np.concatenate([np.zeros(count, np.float32), np.ones(count, np.float32)])
        return images.astype(np.float32), labels

    def _blend(self, real_index: int, rng: np.random.Generator) -> np.ndarray:
        if not self.valid[real_index]:
            real_index = int(rng.choice(self.valid_indices))
        return self_blend(self.reals[real_index], self.real_landmarks[real_index], rng, self.blend_config)

    def on_epoch_end(self) -> None:
        if self.fixed:
            return
        self.epoch += 1
        self._shuffle()
