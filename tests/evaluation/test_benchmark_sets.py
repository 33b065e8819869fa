"""The benchmark's crop sets: who is paired with whom, and what a written set holds."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import SHARED, requires_shared

from detector.evaluation import benchmark_sets
from detector.training import datasets, sources


def test_each_photo_takes_a_face_of_its_own_kind_never_its_own():
    names = [
        "30_0_1_a.jpg",  # man, ethnicity 1, 30
        "35_0_1_b.jpg",  # man, ethnicity 1, 35: the only close match of the first
        "70_0_1_c.jpg",  # man, ethnicity 1, 70: no one within 10 years, so another man
        "30_1_2_d.jpg",  # the only woman: anyone else
        "badly_named.jpg",  # traits unknown: anyone else
    ]
    for seed in range(20):
        chosen = benchmark_sets.choose_sources(names, np.random.default_rng(seed))
        assert chosen[0] == 1 and chosen[1] == 0
        assert chosen[2] in (0, 1)
        assert all(source != index for index, source in enumerate(chosen))


def test_traits_are_read_from_utkface_file_names():
    assert benchmark_sets.utkface_traits("26_1_3_20170119180652543.jpg") == (26, "1", "3")
    assert benchmark_sets.utkface_traits("61_1_20170109142408075.jpg") is None


def test_a_dfdc_face_takes_a_face_from_another_video():
    groups = ["a.mp4", "a.mp4", "b.mp4", "c.mp4"]
    for seed in range(20):
        chosen = benchmark_sets.choose_other_group(groups, np.random.default_rng(seed))
        assert all(groups[source] != groups[index] for index, source in enumerate(chosen))


def test_unknown_people_are_refused():
    with pytest.raises(ValueError, match="people must be one of"):
        benchmark_sets.held_out_people("celebrities", None)


@pytest.mark.skipif(not (SHARED / "data" / "ffpp-faces" / "labels.csv").is_file(), reason="FF++ crops not found")
def test_the_ffpp_set_is_the_validation_groups_reframed_with_one_labels_file_per_method(tmp_path):
    counts = benchmark_sets.write_ffpp_validation(tmp_path)
    validation = sources.split_ffpp(sources.load_ffpp_faces())[1]
    assert counts["crops"] == len(validation.crops)
    training_groups = set(sources.split_ffpp(sources.load_ffpp_faces())[0].crops.groups)
    for method in sources.FFPP_METHODS:
        with open(tmp_path / f"labels-{method}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        labels = {row["label"] for row in rows}
        assert labels == {"REAL", "FAKE"}
        assert not {row["group"] for row in rows} & training_groups
    first = next(iter((tmp_path).glob("*.png")))
    name = first.stem + ".jpg"
    expected = datasets.read_image(validation.crops.root / name, benchmark_sets.SIDE, sources.FFPP_REFRAME)
    np.testing.assert_array_equal(datasets.read_image(first, benchmark_sets.SIDE), expected)  # PNG: lossless


@requires_shared
def test_the_held_out_utkface_labels_are_every_held_out_photo_and_all_real(tmp_path):
    counts = benchmark_sets.write_utkface_held_out(tmp_path)
    photos = datasets.read_labels(tmp_path / "labels.csv", tmp_path)
    assert len(photos) == counts["photos"] == len(datasets.split_utkface(datasets.load_utkface())[1])
    assert photos.labels.max() == 0
    assert (photos.root / photos.files[0]).is_file()


def _hold_out_first_photos(monkeypatch, count: int) -> None:
    """The set writers see only the first ``count`` held-out UTKFace photos."""
    photos = datasets.split_utkface(datasets.load_utkface())[1].subset(np.arange(2493) < count)
    images = datasets.decode_images(photos.root, photos.files, benchmark_sets.SIDE)
    monkeypatch.setattr(
        benchmark_sets, "held_out_people", lambda people, cache: (list(photos.files), images, list(photos.groups))
    )


@requires_shared
@pytest.mark.parametrize("writer", [benchmark_sets.write_face_swaps, benchmark_sets.write_reenactments])
def test_a_pair_set_holds_each_face_as_itself_and_manipulated_in_one_group(tmp_path, monkeypatch, writer):
    _hold_out_first_photos(monkeypatch, 4)
    counts = writer(tmp_path / "set", "utkface", 0, None)
    crops = datasets.read_labels(tmp_path / "set" / "labels.csv", tmp_path / "set")
    assert counts["pairs_written"] == len(crops) // 2 >= 3
    for real, fake, real_group, fake_group in zip(
        crops.files[::2], crops.files[1::2], crops.groups[::2], crops.groups[1::2], strict=True
    ):
        assert real_group == fake_group and real.endswith(".real.jpg")
        difference = np.abs(
            datasets.read_image(tmp_path / "set" / real, 64).astype(int)
            - datasets.read_image(tmp_path / "set" / fake, 64)
        )
        assert difference.mean() > 0.5  # the fake is not the real written twice
    np.testing.assert_array_equal(crops.labels, np.tile([0, 1], len(crops) // 2))
