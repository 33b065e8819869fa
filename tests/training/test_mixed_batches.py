"""Batches balanced by source and method, and the weighted selection set."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from test_self_blend import drawn_face, drawn_landmarks

from detector.training import blend_boundary, landmarks, mixed_batches
from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy
from detector.training.sources import FFPP_METHODS, Pools
from detector.training.train import TrainingConfig

SIDE = 64


def _pool(value: int, count: int) -> np.ndarray:
    """Flat images of one value, so that a batch's crops can be traced to their pool."""
    return np.full((count, SIDE, SIDE, 3), value, np.uint8)


def make_pools() -> Pools:
    face = drawn_face(SIDE)
    images = {
        ("dfdc", "real"): np.repeat(face[np.newaxis], 4, axis=0),
        ("dfdc", "dfdc_fake"): _pool(10, 5),
        ("ffpp", "real"): np.repeat(face[np.newaxis], 3, axis=0),
        **{("ffpp", method): _pool(20 + index, 2) for index, method in enumerate(FFPP_METHODS)},
        ("utkface", "real"): np.repeat(face[np.newaxis], 6, axis=0),
    }
    return Pools(images, {key: tuple(f"g{i}" for i in range(len(value))) for key, value in images.items()})


@pytest.fixture
def drawn_meshes(monkeypatch):
    """Every real gets the drawn face's mesh (the face mesh model is not run on drawings)."""
    mesh = drawn_landmarks(SIDE)
    monkeypatch.setattr(
        landmarks, "precompute_landmarks", lambda images, *args, **kwargs: np.repeat(mesh[np.newaxis], len(images), 0)
    )


def test_batches_are_half_real_half_fake_and_draw_from_every_source_in_its_share(drawn_meshes):
    batches = mixed_batches.MixedBatches(make_pools(), 96, NO_AUGMENTATION, seed=1, steps=40)
    assert len(batches) == 40
    seen_fake_values = []
    fakes_total = 0
    for index in range(len(batches)):
        images, labels = batches[index]
        assert images.shape == (96, SIDE, SIDE, 3) and images.dtype == np.float32
        np.testing.assert_array_equal(labels, np.repeat([0.0, 1.0], 48))
        fakes = images[48:]
        flat = fakes.reshape(48, -1)
        uniform = flat.min(axis=1) == flat.max(axis=1)
        seen_fake_values.extend(flat[uniform, 0].tolist())
        fakes_total += 48
    values = np.asarray(seen_fake_values)
    # DFDC swaps: a third of the fakes times two thirds; each FF++ method: a third times a fifth.
    assert np.sum(values == 10) / fakes_total == pytest.approx(2 / 9, abs=0.03)
    for index in range(len(FFPP_METHODS)):
        assert np.sum(values == 20 + index) / fakes_total == pytest.approx(1 / 15, abs=0.02)
    # The rest are self-blends: not flat.
    assert 1 - len(values) / fakes_total == pytest.approx(1 / 9 + 1 / 15 + 1 / 3, abs=0.04)


def _flat_fake_values(mix: mixed_batches.Mix, seed: int) -> tuple[np.ndarray, int]:
    """The values of the flat (pool-made, not synthetic) fakes in 40 batches of 96 drawn with ``mix``, and how
    many fakes were drawn in all."""
    batches = mixed_batches.MixedBatches(make_pools(), 96, NO_AUGMENTATION, seed=seed, steps=40, mix=mix)
    fake_values = []
    for index in range(len(batches)):
        images, _ = batches[index]
        flat = images[48:].reshape(48, -1)
        fake_values.extend(flat[flat.min(axis=1) == flat.max(axis=1), 0].tolist())
    return np.asarray(fake_values), 40 * 48


def test_the_dfdc_first_mix_draws_dfdc_swaps_and_each_source_in_its_own_shares(drawn_meshes):
    values, total = _flat_fake_values(mixed_batches.MIXES["dfdc_first"], seed=2)
    assert np.sum(values == 10) / total == pytest.approx(0.5 * 0.85, abs=0.03)
    for index in range(len(FFPP_METHODS)):
        assert np.sum(values == 20 + index) / total == pytest.approx(0.225 / 3, abs=0.02)
    # Self-blends: DFDC's 15% of a half, FF++'s 10% of a third, and all of UTKFace's sixth.
    assert 1 - len(values) / total == pytest.approx(0.5 * 0.15 + 0.1 / 3 + 1 / 6, abs=0.04)


def test_the_utkface_third_mix_gives_utkface_a_third_and_changes_nothing_else(drawn_meshes):
    mix = mixed_batches.MIXES["utkface_third"]
    first = mixed_batches.MIXES["dfdc_first"]
    assert mix.fake_kinds == first.fake_kinds
    assert mix.shares["dfdc"] / mix.shares["ffpp"] == pytest.approx(first.shares["dfdc"] / first.shares["ffpp"])
    values, total = _flat_fake_values(mix, seed=5)
    assert np.sum(values == 10) / total == pytest.approx(0.4 * 0.85, abs=0.03)
    # Self-blends: DFDC's 15% of 40%, FF++'s 10% of 27%, and all of UTKFace's third.
    assert 1 - len(values) / total == pytest.approx(0.4 * 0.15 + 0.1 * 0.8 / 3 + 1 / 3, abs=0.04)


def test_the_both_balanced_mix_makes_half_the_fakes_dfdc_swaps_and_gives_each_source_its_real_share(drawn_meshes):
    mix = mixed_batches.MIXES["both_balanced"]
    utkface = mix.shares["utkface"]
    assert utkface == pytest.approx(0.373, abs=0.001) and "ffpp" not in mix.shares
    values, total = _flat_fake_values(mix, seed=6)
    # Only DFDC swaps are flat (no FF++ is drawn): half the fakes, as --fakes both makes them.
    assert set(values.tolist()) == {10.0}
    assert len(values) / total == pytest.approx(0.5, abs=0.03)
    batches = mixed_batches.MixedBatches(make_pools(), 96, NO_AUGMENTATION, seed=6, steps=1, mix=mix)
    real_sources = [source for source, _ in batches.real_slots]
    fake_share = {source: 0.0 for source in real_sources}
    for (source, _), share in zip(batches.fake_slots, batches.fake_p, strict=True):
        fake_share[source] += share
    assert fake_share == pytest.approx(dict(zip(real_sources, batches.real_p, strict=True)))
    assert fake_share["utkface"] == pytest.approx(utkface)


def test_the_dfdc_only_mix_draws_dfdc_reals_and_dfdc_swaps_alone(drawn_meshes):
    pools = make_pools()
    batches = mixed_batches.MixedBatches(
        pools, 96, NO_AUGMENTATION, seed=7, steps=5, mix=mixed_batches.MIXES["dfdc_only"]
    )
    assert batches.real_slots == [("dfdc", "real")] and batches.fake_slots == [("dfdc", "dfdc_fake")]
    for index in range(len(batches)):
        images, labels = batches[index]
        np.testing.assert_array_equal(labels, np.repeat([0.0, 1.0], 48))
        assert (images[48:] == 10).all()


def test_a_mix_without_a_source_cannot_weigh_a_selection_set_that_holds_it():
    with pytest.raises(ValueError, match="no share to ffpp, utkface"):
        TrainingConfig(name="x", fakes="mixed", mix="dfdc_only", select_on="mixed_utkface")
    with pytest.raises(ValueError, match="no share to ffpp"):
        TrainingConfig(name="x", fakes="mixed", mix="both_balanced", select_on="mixed")
    TrainingConfig(name="x", fakes="mixed", mix="dfdc_only", select_on="dfdc")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dfdc_first_regions", "region_blend"),
        ("dfdc_first_reenact", "reenactment_proxy"),
        ("dfdc_first_swaps", "face_swap"),
        ("dfdc_first_mouths", "mouth_transplant"),
    ],
)
def test_a_split_mix_makes_its_other_kind_in_place_of_half_the_whole_face_self_blends(
    drawn_meshes, monkeypatch, name, kind
):
    calls = []

    def noted_blend(image, mesh, rng, config, region=None):
        calls.append("region_blend" if region is not None else "self_blend")
        assert region is None or region in mixed_batches.BLEND_REGIONS
        return np.zeros_like(image), np.zeros(image.shape[:2], np.float32)

    def noted_reenactment(image, mesh, rng):
        calls.append("reenactment_proxy")
        return np.zeros_like(image)

    def noted_swap(target, target_points, source, source_points, blend):
        calls.append("face_swap")
        assert blend in mixed_batches.face_swap.BLENDS
        return np.zeros_like(target)

    monkeypatch.setattr(mixed_batches, "self_blend_with_mask", noted_blend)
    monkeypatch.setattr(mixed_batches.reenactment, "reenact", noted_reenactment)

    def noted_transplant(target, target_points, donor, donor_points, region):
        calls.append("mouth_transplant")
        assert region in mixed_batches.mouth_transplant.REGIONS
        return np.zeros_like(target), np.zeros(target.shape[:2], np.float32)

    monkeypatch.setattr(mixed_batches.face_swap, "swap_faces", noted_swap)
    monkeypatch.setattr(mixed_batches.mouth_transplant, "transplant_with_mask", noted_transplant)
    mix = mixed_batches.MIXES[name]
    batches = mixed_batches.MixedBatches(make_pools(), 96, NO_AUGMENTATION, seed=4, steps=20, mix=mix)
    for index in range(len(batches)):
        batches[index]
    assert set(calls) == {"self_blend", kind}
    assert calls.count(kind) / len(calls) == pytest.approx(0.5, abs=0.06)
    # Everything else is as dfdc_first: only the self-blends are split.
    first = mixed_batches.MIXES["dfdc_first"]
    for source, kinds in mix.fake_kinds.items():
        assert mix.shares[source] == first.shares[source]
        for each, share in first.fake_kinds[source].items():
            if each == "self_blend":
                assert kinds["self_blend"] + kinds[kind] == pytest.approx(share)
            else:
                assert kinds[each] == share


def _utkface_only(pools: Pools, kind: str) -> tuple[Pools, mixed_batches.Mix]:
    only = mixed_batches.Mix(shares={"utkface": 1.0}, fake_kinds={"utkface": {kind: 1.0}}, words=kind)
    return Pools({key: value for key, value in pools.images.items() if key[0] == "utkface"}, pools.groups), only


def _two_groups_of_reals() -> tuple[Pools, dict[int, str]]:
    """Pools whose six UTKFace reals are drawn faces, each a little brighter than the last and in two groups, so that
    a fake's target and donor can be read off their faces; and each real's group by its brightness."""
    pools = make_pools()
    brighter = pools.images[("utkface", "real")].astype(np.int16) + np.arange(6)[:, None, None, None] * 20
    reals = np.clip(brighter, 0, 255).astype(np.uint8)
    pools.images[("utkface", "real")] = reals
    pools.groups[("utkface", "real")] = ("a", "a", "a", "b", "b", "b")
    return pools, {int(real[0, 0, 0]): group for real, group in zip(reals, "aaabbb", strict=True)}


def _fakes_from_donors(pools: Pools, kind: str) -> mixed_batches.MixedBatches:
    """Two batches of 16 with fakes of ``kind`` only, each fake checked to be none of the reals (part of it comes
    from one real and the rest from another)."""
    utkface, only = _utkface_only(pools, kind)
    batches = mixed_batches.MixedBatches(utkface, 16, NO_AUGMENTATION, seed=7, steps=2, mix=only)
    for index in range(len(batches)):
        images, _ = batches[index]
        for fake in images[8:]:
            assert all(np.abs(fake - real).max() > 0 for real in pools.images[("utkface", "real")])
    return batches


def test_a_face_swap_in_a_batch_takes_its_donor_from_another_group_of_the_same_source(drawn_meshes, monkeypatch):
    pools, group_of = _two_groups_of_reals()
    pairs = []
    real_swap = mixed_batches.face_swap.swap_faces

    def noted_swap(target, target_points, source, source_points, blend):
        pairs.append((int(target[0, 0, 0]), int(source[0, 0, 0])))
        return real_swap(target, target_points, source, source_points, blend)

    monkeypatch.setattr(mixed_batches.face_swap, "swap_faces", noted_swap)
    batches = _fakes_from_donors(pools, "face_swap")
    assert len(pairs) == 16 and batches.swap_fallbacks == 0
    assert all(group_of[target] != group_of[donor] for target, donor in pairs)


@pytest.mark.parametrize(
    ("kind", "module", "function"),
    [("face_swap", "face_swap", "swap_faces"), ("mouth_transplant", "mouth_transplant", "transplant_with_mask")],
)
def test_a_fake_from_a_donor_no_donor_fits_is_self_blended_and_counted(
    drawn_meshes, monkeypatch, kind, module, function
):
    def refusing(*args):
        raise ValueError("the donor does not fit")

    blended = []
    monkeypatch.setattr(getattr(mixed_batches, module), function, refusing)
    monkeypatch.setattr(
        mixed_batches, "self_blend", lambda image, mesh, rng, config: blended.append(1) or np.zeros_like(image)
    )
    utkface, only = _utkface_only(make_pools(), kind)
    batches = mixed_batches.MixedBatches(utkface, 8, NO_AUGMENTATION, seed=8, steps=1, mix=only)
    images, _ = batches[0]
    assert batches.swap_fallbacks == 4 and len(blended) == 4
    np.testing.assert_array_equal(images[4:], 0)
    batches.on_epoch_end()
    assert batches.swap_fallbacks == 0


def test_a_mouth_transplant_in_a_batch_takes_another_groups_mouth_into_a_real(drawn_meshes, monkeypatch):
    pools, group_of = _two_groups_of_reals()
    pairs, regions = [], []
    real_transplant = mixed_batches.mouth_transplant.transplant_with_mask

    def noted_transplant(target, target_points, donor, donor_points, region):
        pairs.append((int(target[0, 0, 0]), int(donor[0, 0, 0])))
        regions.append(region)
        return real_transplant(target, target_points, donor, donor_points, region)

    monkeypatch.setattr(mixed_batches.mouth_transplant, "transplant_with_mask", noted_transplant)
    batches = _fakes_from_donors(pools, "mouth_transplant")
    assert len(pairs) == 16 and batches.swap_fallbacks == 0
    assert all(group_of[target] != group_of[donor] for target, donor in pairs)
    assert set(regions) == set(mixed_batches.mouth_transplant.REGIONS)


def test_a_reenactment_proxy_in_a_batch_changes_one_region_of_a_real(drawn_meshes):
    pools = make_pools()
    only = mixed_batches.Mix(
        shares={"utkface": 1.0}, fake_kinds={"utkface": {"reenactment_proxy": 1.0}}, words="reenactment proxies"
    )
    utkface = Pools({key: value for key, value in pools.images.items() if key[0] == "utkface"}, pools.groups)
    batches = mixed_batches.MixedBatches(utkface, 8, NO_AUGMENTATION, seed=3, steps=1, mix=only)
    images, labels = batches[0]
    real = pools.images[("utkface", "real")][0].astype(np.float32)
    changed = np.abs(images[4:] - real).max(axis=3) > 0
    assert labels.tolist() == [0.0] * 4 + [1.0] * 4 and changed.any(axis=(1, 2)).all()
    # A reenactment changes one region and leaves the rest of the crop exactly as it was.
    assert (~changed).mean(axis=(1, 2)).min() > 0.3


def test_every_mix_shares_out_each_half_and_each_sources_fakes_whole():
    for mix in mixed_batches.MIXES.values():
        assert sum(mix.shares.values()) == pytest.approx(1)
        assert set(mix.fake_kinds) == set(mix.shares)
        for kinds in mix.fake_kinds.values():
            assert sum(kinds.values()) == pytest.approx(1)


def test_a_batch_is_the_same_whatever_order_it_is_asked_for_and_changes_with_the_epoch(drawn_meshes):
    batches = mixed_batches.MixedBatches(make_pools(), 16, NO_AUGMENTATION, seed=3, steps=5)
    first = batches[2][0]
    batches[4]
    np.testing.assert_array_equal(batches[2][0], first)
    batches.on_epoch_end()
    assert not np.array_equal(batches[2][0], first)


def _with_boundaries(policy, seed: int = 3):
    batches = mixed_batches.MixedBatches(
        make_pools(), 64, policy, seed=seed, steps=4, mix=mixed_batches.MIXES["dfdc_first"], boundary_side=8
    )
    return [batches[index] for index in range(len(batches))]


def test_boundary_targets_are_empty_for_reals_the_seam_for_self_blends_and_unknown_for_other_fakes(drawn_meshes):
    seen_seams = 0
    for images, targets in _with_boundaries(NO_AUGMENTATION):
        labels, boundary = targets[blend_boundary.CLASSIFIER_OUTPUT], targets[blend_boundary.BOUNDARY_OUTPUT]
        assert images.shape == (64, SIDE, SIDE, 3) and boundary.shape == (64, 8, 8, 2)
        np.testing.assert_array_equal(labels, np.repeat([0.0, 1.0], 32))
        seams, weights = boundary[..., 0], boundary[..., 1].mean(axis=(1, 2))
        # Every real: a known, empty map.
        assert (weights[:32] == 1).all() and not seams[:32].any()
        fakes, fake_seams, fake_weights = images[32:].reshape(32, -1), seams[32:], weights[32:]
        flat = fakes.min(axis=1) == fakes.max(axis=1)
        # The pools' own fakes (flat images here) have no known mask; every self-blend has one, with a seam.
        assert (fake_weights[flat] == 0).all() and not fake_seams[flat].any()
        assert (fake_weights[~flat] == 1).all() and (fake_seams[~flat].max(axis=(1, 2)) > 0.5).all()
        seen_seams += int((~flat).sum())
    assert seen_seams > 0


def test_a_flipped_crop_takes_its_seam_map_with_it(drawn_meshes):
    flip_only = dataclasses.replace(NO_AUGMENTATION, flip=1.0)
    for (plain, plain_targets), (flipped, flipped_targets) in zip(
        _with_boundaries(NO_AUGMENTATION), _with_boundaries(flip_only), strict=True
    ):
        np.testing.assert_array_equal(flipped, plain[:, :, ::-1])
        np.testing.assert_array_equal(
            flipped_targets[blend_boundary.BOUNDARY_OUTPUT], plain_targets[blend_boundary.BOUNDARY_OUTPUT][:, :, ::-1]
        )


@pytest.mark.parametrize("map_target", ["seam", "region"])
def test_pool_fakes_with_a_known_mask_teach_its_map_and_the_others_none(drawn_meshes, map_target):
    pools = make_pools()
    ffpp = [("ffpp", method) for method in FFPP_METHODS]
    # Each FF++ method pool: a first crop of value 20 + i, with a mask (a square in the middle), and a second of
    # value 120 + i, without one.
    images = dict(pools.images)
    for index, key in enumerate(ffpp):
        images[key] = np.concatenate([_pool(20 + index, 1), _pool(120 + index, 1)])
    pools = Pools(images, pools.groups)
    square = np.zeros((SIDE, SIDE), np.float32)
    square[16:48, 16:48] = 1
    known = np.full((2, SIDE, SIDE), np.nan, np.float16)
    known[0] = cv2.GaussianBlur(square, (0, 0), 2.0)
    only_ffpp = mixed_batches.Mix(
        shares={"ffpp": 1.0}, fake_kinds={"ffpp": {method: 0.25 for method in FFPP_METHODS}}, words="ffpp"
    )
    batches = mixed_batches.MixedBatches(
        pools,
        64,
        NO_AUGMENTATION,
        seed=5,
        steps=3,
        mix=only_ffpp,
        boundary_side=8,
        known_masks=dict.fromkeys(ffpp, known),
        map_target=map_target,
    )
    seam = blend_boundary.MAP_TARGETS[map_target](known[0].astype(np.float32), 8)
    assert seam.max() > 0.9
    seen = {True: 0, False: 0}
    for index in range(len(batches)):
        crops, targets = batches[index]
        for crop, target in zip(crops[32:], targets[blend_boundary.BOUNDARY_OUTPUT][32:], strict=True):
            with_mask = crop[0, 0, 0] < 100
            seen[bool(with_mask)] += 1
            np.testing.assert_array_equal(target[..., 1], float(with_mask))
            np.testing.assert_array_equal(target[..., 0], seam if with_mask else 0.0)
    assert seen[True] > 0 and seen[False] > 0


def _paired_pools() -> Pools:
    """Flat crops whose value names them: DFDC reals 1-4 in groups a-d and fakes 40-47 of groups a-d twice over;
    FF++ reals 60-62 in groups a, a, b and Deepfakes 80-83 in groups a, a, b, c (group c has no real)."""
    images = {
        ("dfdc", "real"): np.stack([_pool(value, 1)[0] for value in (1, 2, 3, 4)]),
        ("dfdc", "dfdc_fake"): np.stack([_pool(40 + index, 1)[0] for index in range(8)]),
        ("ffpp", "real"): np.stack([_pool(value, 1)[0] for value in (60, 61, 62)]),
        ("ffpp", "Deepfakes"): np.stack([_pool(80 + index, 1)[0] for index in range(4)]),
    }
    groups = {
        ("dfdc", "real"): ("a", "b", "c", "d"),
        ("dfdc", "dfdc_fake"): ("a", "b", "c", "d") * 2,
        ("ffpp", "real"): ("a", "a", "b"),
        ("ffpp", "Deepfakes"): ("a", "a", "b", "c"),
    }
    return Pools(images, groups)


POOL_FAKES_ONLY = mixed_batches.Mix(
    shares={"dfdc": 0.5, "ffpp": 0.5}, fake_kinds={"dfdc": {"dfdc_fake": 1.0}, "ffpp": {"Deepfakes": 1.0}}, words=""
)


def test_a_paired_batch_puts_each_pool_fake_beside_its_known_pair_or_a_real_of_its_group():
    # FF++ fake 80 is known to pair with real 61 (not the group's first); 81 and 82 have no known pair.
    partners = {("ffpp", "Deepfakes"): np.array([1, -1, -1, -1], np.int32)}
    batches = mixed_batches.MixedBatches(
        _paired_pools(), 32, NO_AUGMENTATION, seed=2, steps=6, mix=POOL_FAKES_ONLY, paired=True, partners=partners
    )
    seen = set()
    for index in range(len(batches)):
        images, labels = batches[index]
        np.testing.assert_array_equal(labels, np.repeat([0.0, 1.0], 16))
        for real, fake in zip(images[:16, 0, 0, 0], images[16:, 0, 0, 0], strict=True):
            seen.add((int(fake), int(real)))
    expected = {40 + i: {1 + i % 4} for i in range(8)} | {80: {61}, 81: {60, 61}, 82: {62}, 83: {60, 61, 62}}
    for fake, real in seen:
        assert real in expected[fake], (fake, real)
    # Every fake was drawn, and the fake without a real in its group (83) met reals of its source only.
    assert {fake for fake, _ in seen} == set(expected)


def test_a_paired_synthetic_fake_sits_beside_the_real_it_was_made_from(drawn_meshes, monkeypatch):
    def marked_blend(real, mesh, rng, config, *region):
        return np.clip(real.astype(int) + 1, 0, 255).astype(np.uint8), np.zeros(real.shape[:2], np.float32)

    monkeypatch.setattr(mixed_batches, "self_blend_with_mask", marked_blend)
    face = drawn_face(SIDE)
    # Six UTKFace reals told apart by their brightness.
    reals = np.stack([np.clip(face.astype(int) - 20 * index, 0, 255).astype(np.uint8) for index in range(6)])
    pools = Pools({("utkface", "real"): reals}, {("utkface", "real"): tuple("abcdef")})
    only = mixed_batches.Mix(shares={"utkface": 1.0}, fake_kinds={"utkface": {"self_blend": 1.0}}, words="")
    images, _ = mixed_batches.MixedBatches(pools, 16, NO_AUGMENTATION, seed=4, steps=1, mix=only, paired=True)[0]
    expected = np.clip(images[:8].astype(int) + 1, 0, 255)
    np.testing.assert_array_equal(images[8:], expected)
    assert len({image.tobytes() for image in images[:8]}) > 1


def test_a_pair_is_augmented_alike_so_only_the_manipulation_differs_within_it():
    pools = _paired_pools()
    images = dict(pools.images)
    # Each DFDC fake is its real, unchanged, on a drawn face: whatever differs within a pair comes from augmentation.
    face = drawn_face(SIDE)
    images[("dfdc", "real")] = np.stack([np.clip(face.astype(int) + 10 * i, 0, 255) for i in range(4)]).astype(np.uint8)
    images[("dfdc", "dfdc_fake")] = np.concatenate([images[("dfdc", "real")]] * 2)
    pools = Pools(images, pools.groups)
    only_dfdc = mixed_batches.Mix(shares={"dfdc": 1.0}, fake_kinds={"dfdc": {"dfdc_fake": 1.0}}, words="")
    everything = AugmentationPolicy(flip=0.5, color=1.0, cast=1.0, blur=1.0, rescale=1.0, jpeg=1.0, h264=1.0)
    images, _ = mixed_batches.MixedBatches(pools, 16, everything, seed=6, steps=1, mix=only_dfdc, paired=True)[0]
    np.testing.assert_array_equal(images[:8], images[8:])
    # The augmentation did act (colour jitter always does): no crop is left as it was.
    raw = pools.images[("dfdc", "real")].astype(np.float32)
    assert not any(np.array_equal(image, original) for image in images for original in raw)


def test_paired_batches_refuse_boundary_targets_and_partners_need_pairing(drawn_meshes):
    with pytest.raises(ValueError, match="paired"):
        mixed_batches.MixedBatches(make_pools(), 16, NO_AUGMENTATION, seed=0, boundary_side=8, paired=True)
    with pytest.raises(ValueError, match="partners"):
        mixed_batches.MixedBatches(
            make_pools(), 16, NO_AUGMENTATION, seed=0, partners={("ffpp", "Deepfakes"): np.zeros(2, np.int32)}
        )


def test_reframing_is_refused_beside_boundary_targets(drawn_meshes):
    with pytest.raises(ValueError, match="reframing"):
        mixed_batches.MixedBatches(
            make_pools(), 16, dataclasses.replace(NO_AUGMENTATION, reframe=0.5), seed=0, boundary_side=8
        )


def test_odd_batches_and_pools_without_a_trusted_mesh_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="even"):
        mixed_batches.MixedBatches(make_pools(), 15, NO_AUGMENTATION, seed=0)
    monkeypatch.setattr(
        landmarks, "precompute_landmarks", lambda images, *a, **k: np.full((len(images), 468, 2), np.nan, np.float16)
    )
    with pytest.raises(ValueError, match="trusted face mesh"):
        mixed_batches.MixedBatches(make_pools(), 16, NO_AUGMENTATION, seed=0)


def test_selecting_on_utkface_photos_is_refused_beside_extra_utkface_reals():
    with pytest.raises(ValueError, match="keeps a tenth of UTKFace out of training"):
        TrainingConfig(name="x", fakes="both", extra_reals="utkface", select_on="mixed_utkface")
    assert TrainingConfig(name="x", fakes="mixed", select_on="mixed_utkface").select_on == "mixed_utkface"
    # Extra UTKFace reals that leave that tenth out may select on it.
    spared = TrainingConfig(name="x", extra_reals="utkface_except_selection", select_on="mixed_utkface")
    assert spared.selects_on_utkface


def test_a_mix_is_for_a_mixed_run_and_must_be_known():
    with pytest.raises(ValueError, match="fakes='mixed'"):
        TrainingConfig(name="x", mix="dfdc_first")
    with pytest.raises(ValueError, match="mix must be one of"):
        TrainingConfig(name="x", fakes="mixed", mix="heavy")
