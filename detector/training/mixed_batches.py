"""Batches balanced across sources and methods, so that no source's look becomes the label.

DFDC's cameras, FaceForensics++'s YouTube broadcasts and UTKFace's photos each look their own way. If one of them
brought mostly fakes and another mostly reals, a network could learn "looks like a broadcast" instead of "looks
manipulated". So every source has the same share of a batch's reals as of its fakes (a ``Mix``'s ``shares``), and
within a source the fakes are spread over its methods, self-blends of its own reals among them (the one synthetic
fake that carried to swaps of another method here: docs/EXPERIMENTS.md). ``MIXES`` names the recipes a run may take.

Training batches (``MixedBatches``) draw each crop at random from its pool, with a generator seeded by
``(seed, epoch, batch index)``, so a batch is the same whatever order Keras asks for it in. The set that selects a
mixed run's epochs weighs its sources by the same mix (``detector.training.selection_set``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from detector.training import (
    blend_boundary,
    face_swap,
    landmarks,
    mouth_transplant,
    reenactment,
    sharpness_match,
)
from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy, horizontal_flip
from detector.training.self_blend import BLEND_REGIONS, DEFAULT_CONFIG, REGION_CONFIG, self_blend, self_blend_with_mask
from detector.training.sources import (
    DFDC_FAKE,
    FACE_SWAP,
    FFPP_METHODS,
    MOUTH_TRANSPLANT,
    REAL,
    REENACTMENT_PROXY,
    REGION_BLEND,
    SELF_BLEND,
    SYNTHETIC_FAKES,
    Pools,
)

logger = logging.getLogger(__name__)


# How many donors a face swap or a mouth transplant tries before its target is self-blended instead.
SWAP_ATTEMPTS = 8


@dataclass(frozen=True)
class Mix:
    """One recipe of a batch: each source's share of the reals and, the same, of the fakes (``shares``); then how
    each source's fakes divide among kinds (``fake_kinds``); ``words`` says it for the card."""

    shares: dict[str, float]
    fake_kinds: dict[str, dict[str, float]]
    words: str


MIXES = {
    # Every source alike: the first mixed runs (docs/EXPERIMENTS.md, "Training on every source").
    "even": Mix(
        shares={"dfdc": 1 / 3, "ffpp": 1 / 3, "utkface": 1 / 3},
        fake_kinds={
            "dfdc": {DFDC_FAKE: 2 / 3, SELF_BLEND: 1 / 3},
            "ffpp": {**{method: 1 / 5 for method in FFPP_METHODS}, SELF_BLEND: 1 / 5},
            "utkface": {SELF_BLEND: 1.0},
        },
        words="each batch half real, half fake; DFDC, FaceForensics++ and UTKFace a third of each half; DFDC's fakes "
        "two thirds DFDC swaps (both fake sets) and one third self-blends of DFDC reals; FF++'s a fifth each of "
        "Deepfakes, Face2Face, FaceSwap, NeuralTextures and self-blends of FF++ reals; UTKFace's all self-blends",
    ),
    # DFDC's swaps back to the largest share of the fakes (0.425) and self-blends down to about a quarter (0.275),
    # after the even mix lost DFDC ranking in its first epochs (docs/EXPERIMENTS.md, "DFDC first").
    "dfdc_first": Mix(
        shares={"dfdc": 1 / 2, "ffpp": 1 / 3, "utkface": 1 / 6},
        fake_kinds={
            "dfdc": {DFDC_FAKE: 0.85, SELF_BLEND: 0.15},
            "ffpp": {**{method: 0.225 for method in FFPP_METHODS}, SELF_BLEND: 0.1},
            "utkface": {SELF_BLEND: 1.0},
        },
        words="each batch half real, half fake; DFDC half of each half, FaceForensics++ a third, UTKFace a sixth; "
        "DFDC's fakes 85% DFDC swaps (both fake sets) and 15% self-blends of DFDC reals; FF++'s 22.5% each of "
        "Deepfakes, Face2Face, FaceSwap and NeuralTextures and 10% self-blends of FF++ reals; UTKFace's all "
        "self-blends",
    ),
}


def _half_the_self_blends_as(mix: Mix, kind: str, words: str) -> Mix:
    """``mix`` with half of every source's self-blend share given to another synthetic ``kind``, the one change."""
    fake_kinds = {}
    for source, kinds in mix.fake_kinds.items():
        half = kinds[SELF_BLEND] / 2
        fake_kinds[source] = {**kinds, SELF_BLEND: half, kind: half}
    return Mix(shares=dict(mix.shares), fake_kinds=fake_kinds, words=words)


# dfdc_first with half of every source's self-blends regional (mouth, lower face or eyes only), the one change
# (docs/EXPERIMENTS.md, "Regional self-blends").
MIXES["dfdc_first_regions"] = _half_the_self_blends_as(
    MIXES["dfdc_first"],
    REGION_BLEND,
    "as dfdc_first (DFDC half of each half, FaceForensics++ a third, UTKFace a sixth; DFDC's fakes 85% DFDC swaps, "
    "FF++'s 22.5% each of its four methods), with each source's self-blends half whole-face and half regional: the "
    "mouth, the lower face or the eyes only, blended with a milder colour change",
)
# dfdc_first with half of every source's self-blends replaced by reenactment proxies of the training people
# (docs/EXPERIMENTS.md, "Reenactment proxies in training"); the benchmark's face swaps stay untrained.
MIXES["dfdc_first_reenact"] = _half_the_self_blends_as(
    MIXES["dfdc_first"],
    REENACTMENT_PROXY,
    "as dfdc_first (DFDC half of each half, FaceForensics++ a third, UTKFace a sixth; DFDC's fakes 85% DFDC swaps, "
    "FF++'s 22.5% each of its four methods), with each source's self-blends half whole-face and half reenactment "
    "proxies of the training people: the mouth or the lower face warped to a new expression and blended back",
)
# dfdc_first with half of every source's self-blends replaced by landmark face swaps between two training reals of
# the source (docs/EXPERIMENTS.md, "Graphics swaps in training"); the benchmark's reenactment proxies stay untrained.
MIXES["dfdc_first_swaps"] = _half_the_self_blends_as(
    MIXES["dfdc_first"],
    FACE_SWAP,
    "as dfdc_first (DFDC half of each half, FaceForensics++ a third, UTKFace a sixth; DFDC's fakes 85% DFDC swaps, "
    "FF++'s 22.5% each of its four methods), with each source's self-blends half whole-face and half landmark face "
    "swaps between two training reals of that source (of different groups), colour-matched, alpha or Poisson blended",
)
# dfdc_first with half of every source's self-blends replaced by mouth transplants between two training reals of the
# source (docs/EXPERIMENTS.md, "Mouth transplants in training"): a re-rendered mouth's other trace, pixels from
# another image with no warp; the benchmark's reenactment proxies (a warp) and face swaps stay untrained.
MIXES["dfdc_first_mouths"] = _half_the_self_blends_as(
    MIXES["dfdc_first"],
    MOUTH_TRANSPLANT,
    "as dfdc_first (DFDC half of each half, FaceForensics++ a third, UTKFace a sixth; DFDC's fakes 85% DFDC swaps, "
    "FF++'s 22.5% each of its four methods), with each source's self-blends half whole-face and half mouth "
    "transplants: the mouth or the lower face of another training real of that source (of another group), placed "
    "without a warp, colour-matched and blended in",
)
# dfdc_first with UTKFace a third of each half, DFDC and FF++ sharing the rest as there (3:2), the one change: about
# UTKFace's weight in compact_both_utk's step, which brought a mixed network's unseen people down. Measured: the
# weight was not what did it (no lower on unseen people, DFDC 0.029 lower; docs/EXPERIMENTS.md, "UTKFace a third of
# every batch"); no recipe uses it.
MIXES["utkface_third"] = Mix(
    shares={"dfdc": 0.4, "ffpp": 0.8 / 3, "utkface": 1 / 3},
    fake_kinds={source: dict(kinds) for source, kinds in MIXES["dfdc_first"].fake_kinds.items()},
    words="each batch half real, half fake; DFDC 40% of each half, FaceForensics++ 27%, UTKFace a third; fakes as "
    "in dfdc_first (DFDC's 85% DFDC swaps and 15% self-blends; FF++'s 22.5% each of its four methods and 10% "
    "self-blends; UTKFace's all self-blends)",
)


# compact_both_utk's step (``--fakes both --extra-reals utkface``) drew every training real once an epoch, DFDC's
# 12,236 and UTKFace's 7,287, and made half its fakes DFDC swaps and half self-blends of the batch's reals: UTKFace
# was 37% of the reals but 19% of the fakes, so a UTKFace look said "real" two times in three. This mix keeps that
# step's reals and its fake kinds in total (half DFDC swaps, half self-blends) and gives each source the same share
# of the fakes as of the reals, the one change (docs/EXPERIMENTS.md, "The both-step with each source balanced").
_UTKFACE_SHARE_OF_BOTH_STEP_REALS = 7287 / (12236 + 7287)
MIXES["both_balanced"] = Mix(
    shares={"dfdc": 1 - _UTKFACE_SHARE_OF_BOTH_STEP_REALS, "utkface": _UTKFACE_SHARE_OF_BOTH_STEP_REALS},
    fake_kinds={
        "dfdc": {
            DFDC_FAKE: 0.5 / (1 - _UTKFACE_SHARE_OF_BOTH_STEP_REALS),
            SELF_BLEND: 1 - 0.5 / (1 - _UTKFACE_SHARE_OF_BOTH_STEP_REALS),
        },
        "utkface": {SELF_BLEND: 1.0},
    },
    words="each batch half real, half fake; DFDC 63% of each half and UTKFace 37% (their shares of the training "
    "reals), no FaceForensics++; DFDC's fakes 80% DFDC swaps (both fake sets) and 20% self-blends of DFDC reals, "
    "UTKFace's all self-blends: half the fakes DFDC swaps and half self-blends, as --fakes both makes them",
)

# DFDC's reals and swaps alone, half and half: the first stage's data (wide_v1 trains on DFDC's crops) in a mixed run,
# so that a network can learn the change-region map from its first batch (docs/EXPERIMENTS.md, "Change regions from
# the first batch").
MIXES["dfdc_only"] = Mix(
    shares={"dfdc": 1.0},
    fake_kinds={"dfdc": {DFDC_FAKE: 1.0}},
    words="each batch half real, half fake, all DFDC: its reals and its swaps (both fake sets), no other source and "
    "no synthetic fake",
)


def _slots(pools: Pools, mix: Mix) -> tuple[list[tuple[str, str]], np.ndarray, list[tuple[str, str]], np.ndarray]:
    """The real slots and fake slots ``(source, kind)`` with their probabilities, for the sources ``pools`` has."""
    sources = [source for source in mix.shares if (source, REAL) in pools.images]
    total = sum(mix.shares[source] for source in sources)
    real_slots = [(source, REAL) for source in sources]
    real_p = np.array([mix.shares[source] / total for source in sources])
    fake_slots: list[tuple[str, str]] = []
    fake_p: list[float] = []
    for source in sources:
        kinds = {
            kind: share
            for kind, share in mix.fake_kinds[source].items()
            if kind in SYNTHETIC_FAKES or (source, kind) in pools.images
        }
        kinds_total = sum(kinds.values())
        for kind, share in kinds.items():
            fake_slots.append((source, kind))
            fake_p.append(mix.shares[source] / total * share / kinds_total)
    return real_slots, real_p, fake_slots, np.asarray(fake_p)


class MixedBatches(keras.utils.PyDataset):
    """Training batches ``(images (B, S, S, 3) float32 0-255 RGB, labels (B,) float32)``, half real, half fake.

    An epoch holds ``steps`` batches (default: as many as it takes to show as many crops as the pools hold).
    Self-blends need each real pool's face meshes, computed once and cached in ``cache_folder``.

    With ``boundary_side`` (a model with the blend-boundary head, ``blend_boundary``), the labels are a dict of
    both outputs' targets: the crop labels and ``(B, side, side, 2)`` seam maps with their weights, known for the
    reals (empty), the self-blends (their mask's seam) and the pool fakes ``known_masks`` gives a mask for
    (``(N, S, S)`` per pool, NaN where unknown: ``ffpp_pairs.pair_masks``), unknown (weight 0) for every other
    fake. The horizontal flip then moves crop and map together; reframing, which would move the seam, is refused.
    ``map_target`` says what the map is of a mask: its seam (``"seam"``, ``blend_boundary.boundary_map``) or the
    region it changed (``"region"``, ``blend_boundary.region_map``).

    ``paired`` batches draw the fakes as the mix says and then, instead of drawing reals on their own, put beside
    each fake its partner: the real a synthetic fake was made from, the real ``partners`` names for a pool fake
    (``(N,)`` indices into its source's reals per pool, -1 where unknown: ``ffpp_pairs.pair_reals``), else a real
    of the fake's own group (DFDC's fakes and their source video's real), else any real of its source. The real
    ``i`` of a batch is the partner of its fake ``i``, and the two get the same augmentation (one random stream
    each, from one seed), so within a pair only the manipulation differs (docs/EXPERIMENTS.md, "Paired batches").

    After ``match_sharpness``, every real drawn is first blurred to its source's fakes' softness
    (``sharpness_match``), so that sharpness does not tell the labels apart.
    """

    def __init__(
        self,
        pools: Pools,
        batch_size: int,
        policy: AugmentationPolicy,
        seed: int,
        cache_folder: Path | None = None,
        steps: int | None = None,
        mix: Mix = MIXES["even"],
        boundary_side: int | None = None,
        known_masks: dict[tuple[str, str], np.ndarray] | None = None,
        paired: bool = False,
        partners: dict[tuple[str, str], np.ndarray] | None = None,
        map_target: str = "seam",
    ) -> None:
        super().__init__()
        if batch_size < 2 or batch_size % 2:
            raise ValueError(f"batch_size must be an even number of at least 2, got {batch_size}")
        if boundary_side is not None and policy.reframe:
            raise ValueError("reframing moves a self-blend's seam: train with the boundary head without it")
        if boundary_side is not None and paired:
            raise ValueError("paired batches are not made with the boundary head's targets")
        if partners and not paired:
            raise ValueError("partners are for paired batches")
        if map_target not in blend_boundary.MAP_TARGETS:
            raise ValueError(f"map_target must be one of {tuple(blend_boundary.MAP_TARGETS)}, got {map_target!r}")
        self.draw_map = blend_boundary.MAP_TARGETS[map_target]
        self.pools = pools
        self.half = batch_size // 2
        self.policy = policy
        self.boundary_side = boundary_side
        self.known_masks = known_masks or {}
        self.paired = paired
        self.partners = partners or {}
        # With boundary targets the flip is applied by hand, to crop and map together; the rest as the policy says.
        self.policy_after_flip = dataclasses.replace(policy, flip=0.0)
        self.seed = seed
        self.epoch = 0
        self.real_slots, self.real_p, self.fake_slots, self.fake_p = _slots(pools, mix)
        self.steps = steps or int(np.ceil(pools.count() / batch_size))
        self.meshes: dict[str, np.ndarray] = {}
        self.trusted: dict[str, np.ndarray] = {}
        self.swap_fallbacks = 0
        self.sharpness_match: sharpness_match.SharpnessMatch | None = None
        self.real_groups = {source: np.asarray(pools.groups[(source, kind)]) for source, kind in self.real_slots}
        self.reals_of_group = {
            source: {group: np.flatnonzero(groups == group) for group in np.unique(groups)}
            for source, groups in self.real_groups.items()
        }
        for source, kind in self.fake_slots:
            if kind in SYNTHETIC_FAKES and source not in self.meshes:
                meshes = landmarks.precompute_landmarks(
                    pools.images[(source, REAL)],
                    cache_folder,
                    progress=lambda done, total, source=source: logger.info(
                        "face mesh: %d of %d %s reals", done, total, source
                    ),
                )
                trusted = np.flatnonzero(np.isfinite(meshes).all(axis=(1, 2)))
                if not len(trusted):
                    raise ValueError(f"no {source} real has a trusted face mesh: nothing to self-blend")
                self.meshes[source] = meshes
                self.trusted[source] = trusted

    def __len__(self) -> int:
        return self.steps

    def _draw(self, slot: tuple[str, str], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, int]:
        """One crop of ``slot``, its blend mask ``(S, S) float32`` where one is known (a self-blend's or a pool
        fake's from ``known_masks``; None for a real, whose map is empty: ``_with_boundaries``, and every other
        fake) and its index: in its pool, or for a synthetic fake the index of the real it was made from."""
        source, kind = slot
        if kind in SYNTHETIC_FAKES:
            index = int(rng.choice(self.trusted[source]))
            real, mesh = self.pools.images[(source, REAL)][index], self.meshes[source][index]
            if kind == REGION_BLEND:
                region = str(rng.choice(list(BLEND_REGIONS)))
                return *self_blend_with_mask(real, mesh, rng, REGION_CONFIG, region), index
            if kind == REENACTMENT_PROXY:
                return reenactment.reenact(real, mesh, rng), None, index
            if kind == FACE_SWAP:
                return self._from_donor(source, index, rng, self._swap), None, index
            if kind == MOUTH_TRANSPLANT:
                return self._from_donor(source, index, rng, self._transplant), None, index
            return *self_blend_with_mask(real, mesh, rng, DEFAULT_CONFIG), index
        pool = self.pools.images[slot]
        index = int(rng.integers(len(pool)))
        crop = pool[index]
        if kind == REAL and self.sharpness_match is not None:
            crop = self.sharpness_match.match(source, crop)
        mask = self.known_masks[slot][index] if slot in self.known_masks else None
        return crop, (mask.astype(np.float32) if mask is not None and np.isfinite(mask).all() else None), index

    def draw_crop(self, slot: tuple[str, str], rng: np.random.Generator) -> np.ndarray:
        """One crop of ``slot`` as a batch would draw it, before augmentation."""
        return self._draw(slot, rng)[0]

    def match_sharpness(self, seed: int, count: int = sharpness_match.SAMPLE) -> sharpness_match.SharpnessMatch:
        """From now on, blur every real drawn to its source's fakes' softness (``sharpness_match.fit``: ``count``
        crops of each source's reals and fakes, drawn as batches draw them, unmatched, seeded by ``seed``)."""
        if self.paired:
            raise ValueError("a paired batch's reals are its fakes' partners: match sharpness in unpaired batches")
        self.sharpness_match = None  # the samples are of the reals as drawn, not as an earlier match left them
        self.sharpness_match = sharpness_match.fit(
            self.draw_crop, self.real_slots, self.fake_slots, self.fake_p, np.random.default_rng(seed), count
        )
        return self.sharpness_match

    def _partner(self, slot: tuple[str, str], index: int, rng: np.random.Generator) -> int:
        """The index among its source's reals of the real a paired batch puts beside the fake ``index`` of
        ``slot`` (``_draw``'s index)."""
        source, kind = slot
        if kind in SYNTHETIC_FAKES:
            return index
        known = self.partners.get(slot)
        if known is not None and known[index] >= 0:
            return int(known[index])
        same_group = self.reals_of_group[source].get(self.pools.groups[slot][index])
        if same_group is not None:
            return int(rng.choice(same_group))
        return int(rng.integers(len(self.pools.images[(source, REAL)])))

    def _from_donor(
        self, source: str, target: int, rng: np.random.Generator, make: Callable[..., np.ndarray]
    ) -> np.ndarray:
        """A fake of the real ``target`` made by ``make`` (``_swap`` or ``_transplant``) from another trusted real of
        ``source`` of another group. Where the two meshes do not fit (``make`` refuses with ``ValueError``), another
        donor is drawn; a target that refuses every one of them is self-blended instead, and counted
        (``swap_fallbacks``)."""
        reals, meshes = self.pools.images[(source, REAL)], self.meshes[source]
        groups = self.real_groups[source]
        donors = self.trusted[source][groups[self.trusted[source]] != groups[target]]
        for _ in range(SWAP_ATTEMPTS if len(donors) else 0):
            donor = int(rng.choice(donors))
            try:
                target_mesh, donor_mesh = meshes[target].astype(np.float32), meshes[donor].astype(np.float32)
                return make(reals[target], target_mesh, reals[donor], donor_mesh, rng)
            except ValueError:
                continue
        self.swap_fallbacks += 1
        return self_blend(reals[target], meshes[target], rng, DEFAULT_CONFIG)

    @staticmethod
    def _swap(
        target: np.ndarray, target_mesh: np.ndarray, donor: np.ndarray, donor_mesh: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """A landmark face swap of the donor onto the target, alpha or Poisson blended at random."""
        blend = face_swap.BLENDS[int(rng.integers(len(face_swap.BLENDS)))]
        return face_swap.swap_faces(target, target_mesh, donor, donor_mesh, blend)

    @staticmethod
    def _transplant(
        target: np.ndarray, target_mesh: np.ndarray, donor: np.ndarray, donor_mesh: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """The donor's mouth or lower face, drawn at random, transplanted into the target."""
        region = mouth_transplant.REGIONS[int(rng.integers(len(mouth_transplant.REGIONS)))]
        return mouth_transplant.transplant_with_mask(target, target_mesh, donor, donor_mesh, region)[0]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray | dict[str, np.ndarray]]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (0-{len(self) - 1})")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.paired:
            return self._paired(rng)
        drawn = []
        for slots, probabilities in ((self.real_slots, self.real_p), (self.fake_slots, self.fake_p)):
            for slot, count in zip(slots, rng.multinomial(self.half, probabilities), strict=True):
                drawn.extend(self._draw(slot, rng)[:2] for _ in range(count))
        labels = np.concatenate([np.zeros(self.half, np.float32), np.ones(self.half, np.float32)])
        if self.boundary_side is not None:
            return self._with_boundaries(drawn, labels, rng)
        batch = np.stack([crop for crop, _ in drawn])
        if self.policy is not NO_AUGMENTATION:
            batch = self.policy.apply_batch(batch, rng)
        return batch.astype(np.float32), labels

    def _paired(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A paired batch: the fakes drawn as the mix says, each real the partner of the fake at its place."""
        reals, fakes = [], []
        for slot, count in zip(self.fake_slots, rng.multinomial(self.half, self.fake_p), strict=True):
            for _ in range(count):
                fake, _, index = self._draw(slot, rng)
                fakes.append(fake)
                reals.append(self.pools.images[(slot[0], REAL)][self._partner(slot, index, rng)])
        crops = reals + fakes
        if self.policy is not NO_AUGMENTATION:
            # One seed a pair: the real at place i and the fake at place i are augmented alike.
            seeds = np.tile(rng.integers(2**63, size=self.half), 2)
            crops = [
                self.policy.apply(crop, np.random.default_rng(seed)) for crop, seed in zip(crops, seeds, strict=True)
            ]
        labels = np.concatenate([np.zeros(self.half, np.float32), np.ones(self.half, np.float32)])
        return np.stack(crops).astype(np.float32), labels

    def _with_boundaries(
        self, drawn: list[tuple[np.ndarray, np.ndarray | None]], labels: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The batch with both outputs' targets (``blend_boundary.boundary_target``), each crop flipped together
        with its map."""
        side = int(self.boundary_side)
        crops, targets = [], []
        for (crop, mask), label in zip(drawn, labels, strict=True):
            if not label:
                seam = np.zeros((side, side), np.float32)
            elif mask is None:
                seam = None
            else:
                seam = self.draw_map(mask, side)
            if self.policy.flip and rng.random() < self.policy.flip:
                crop = horizontal_flip(crop)
                seam = None if seam is None else np.ascontiguousarray(seam[:, ::-1])
            crops.append(self.policy_after_flip.apply(crop, rng))
            targets.append(blend_boundary.boundary_target(seam, side))
        return np.stack(crops).astype(np.float32), {
            blend_boundary.CLASSIFIER_OUTPUT: labels,
            blend_boundary.BOUNDARY_OUTPUT: np.stack(targets),
        }

    def on_epoch_end(self) -> None:
        if self.swap_fallbacks:
            logger.info(
                "epoch %d: %d face swaps or mouth transplants self-blended instead (no donor fitted)",
                self.epoch,
                self.swap_fallbacks,
            )
            self.swap_fallbacks = 0
        self.epoch += 1
