"""The weighted set that selects a mixed run's epochs."""

from __future__ import annotations

import numpy as np
import pytest
from test_mixed_batches import drawn_meshes, make_pools  # noqa: F401 (drawn_meshes: a fixture)

from detector.training import mixed_batches, selection_set
from detector.training.sources import FFPP_METHODS


def test_selection_weights_give_each_source_and_label_and_method_the_same_total():
    pools = make_pools()
    weights = selection_set.selection_weights(pools)
    totals = {key: weights[key] * len(pools.images[key]) for key in weights}
    sources = {"dfdc", "ffpp", "utkface"}
    per_source_real = [totals[(source, "real")] for source in sources]
    assert max(per_source_real) == pytest.approx(min(per_source_real))
    dfdc_fakes = totals[("dfdc", "dfdc_fake")]
    ffpp_fakes = sum(totals[("ffpp", method)] for method in FFPP_METHODS)
    assert dfdc_fakes == pytest.approx(ffpp_fakes) == pytest.approx(totals[("dfdc", "real")])
    assert len({round(totals[("ffpp", method)], 9) for method in FFPP_METHODS}) == 1
    assert np.mean(np.concatenate([np.full(len(pools.images[k]), w) for k, w in weights.items()])) == pytest.approx(1)


def test_selection_weights_follow_the_mix_shares_of_the_sources_present():
    pools = make_pools()
    del pools.images[("utkface", "real")]
    weights = selection_set.selection_weights(pools, mixed_batches.MIXES["dfdc_first"])
    totals = {key: weights[key] * len(pools.images[key]) for key in weights}
    dfdc = totals[("dfdc", "real")] + totals[("dfdc", "dfdc_fake")]
    ffpp = totals[("ffpp", "real")] + sum(totals[("ffpp", method)] for method in FFPP_METHODS)
    # DFDC half and FF++ a third of the batches: 3 to 2 once UTKFace (not in selection) is left out.
    assert dfdc / ffpp == pytest.approx(1.5)
    assert totals[("dfdc", "real")] == pytest.approx(totals[("dfdc", "dfdc_fake")])


def test_the_selection_set_shows_every_crop_once_with_its_label_and_weight():
    pools = make_pools()
    selection = selection_set.WeightedSelection(pools, batch_size=7)
    images, labels, weights = zip(*(selection[index] for index in range(len(selection))), strict=True)
    assert sum(len(batch) for batch in images) == pools.count()
    labels = np.concatenate(labels)
    assert labels.sum() == sum(len(v) for k, v in pools.images.items() if k[1] != "real")
    assert np.all(np.concatenate(weights) > 0)


@pytest.mark.usefixtures("drawn_meshes")
def test_fixed_self_blends_give_a_source_without_fakes_its_fakes_the_same_every_time():
    pools = make_pools()
    with_blends = selection_set.with_fixed_self_blends(pools, "utkface", seed=3)
    blends = with_blends.images[("utkface", "self_blend")]
    reals = pools.images[("utkface", "real")]
    assert blends.shape == reals.shape and blends.dtype == np.uint8
    assert not np.array_equal(blends, reals)
    np.testing.assert_array_equal(
        selection_set.with_fixed_self_blends(pools, "utkface", seed=3).images[("utkface", "self_blend")], blends
    )
    assert with_blends.groups[("utkface", "self_blend")] == pools.groups[("utkface", "real")]
    # The source now weighs its fakes as much as its reals in the selection set, as every other source does.
    weights = selection_set.selection_weights(with_blends)
    totals = {key: weights[key] * len(with_blends.images[key]) for key in weights}
    assert totals[("utkface", "self_blend")] == pytest.approx(totals[("utkface", "real")])
    assert totals[("utkface", "real")] == pytest.approx(totals[("dfdc", "real")])
