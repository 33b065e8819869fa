"""The training sources of a mixed run: FF++ and DFDC's second fakes read, split by group, decoded alike."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED

from detector.errors import DatasetError
from detector.training import datasets, sources

requires_all_sources = pytest.mark.skipif(
    not all(
        (SHARED / "data" / name / "labels.csv").is_file() for name in ("dfdc-faces", "dfdc-extra-fakes", "ffpp-faces")
    ),
    reason=f"DFDC, its second fakes or FF++ crops not found under {SHARED / 'data'}",
)


@requires_all_sources
def test_ffpp_methods_and_labels_agree_and_the_split_keeps_each_group_on_one_side():
    ffpp = sources.load_ffpp_faces()
    assert set(ffpp.methods) == {*sources.FFPP_METHODS, sources.FFPP_REAL_METHOD}
    reals = np.array([method == sources.FFPP_REAL_METHOD for method in ffpp.methods])
    np.testing.assert_array_equal(ffpp.crops.labels == 0, reals)
    train, validation = sources.split_ffpp(ffpp)
    assert len(train.crops) + len(validation.crops) == len(ffpp.crops)
    assert not set(train.crops.groups) & set(validation.crops.groups)
    # Every method has fakes on both sides, so each can be measured and trained on.
    for method in sources.FFPP_METHODS:
        assert method in train.methods and method in validation.methods


@requires_all_sources
def test_dfdc_second_fakes_are_all_fake_and_split_by_the_dfdc_groups():
    extra = sources.load_dfdc_extra_fakes()
    assert extra.labels.min() == 1
    dfdc_groups = set(datasets.load_dfdc_faces().groups)
    assert set(extra.groups) <= dfdc_groups
    _, dfdc_validation = datasets.split_by_group(datasets.load_dfdc_faces())
    _, extra_validation = datasets.split_by_group(extra)
    assert set(extra_validation.groups) <= set(dfdc_validation.groups)


def test_unknown_ffpp_methods_and_mislabelled_reals_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "ffpp-faces"
    folder.mkdir(parents=True)
    (folder / "labels.csv").write_text("file,label,method,group\na.jpg,FAKE,Morphing,g1\n")
    with pytest.raises(DatasetError, match="unknown methods"):
        sources.load_ffpp_faces(tmp_path)
    (folder / "labels.csv").write_text("file,label,method,group\na.jpg,FAKE,youtube,g1\n")
    with pytest.raises(DatasetError, match="youtube"):
        sources.load_ffpp_faces(tmp_path)


def test_reframing_cuts_the_square_before_resizing(tmp_path):
    import cv2

    image = np.zeros((100, 100, 3), np.uint8)
    image[:50] = 255  # top half white
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), image)
    whole = datasets.read_image(path, 20)
    lower = datasets.read_image(path, 20, reframe=(0.5, 0.0, 0.5))
    assert whole[:10].min() == 255 and whole[10:].max() == 0
    assert lower.max() == 0  # the cut is the black lower-left quarter


@requires_all_sources
def test_mixed_pools_hold_every_source_and_no_utkface_on_the_validation_side(tmp_path):
    train = sources.mixed_pools(32, tmp_path, validation=False, limit=3)
    assert set(train.images) == {
        ("dfdc", "real"),
        ("dfdc", "dfdc_fake"),
        ("ffpp", "real"),
        *(("ffpp", method) for method in sources.FFPP_METHODS),
        ("utkface", "real"),
    }
    assert len(train.images[("dfdc", "dfdc_fake")]) == 6  # three of each DFDC fake set
    assert all(images.shape[1:] == (32, 32, 3) and images.dtype == np.uint8 for images in train.images.values())
    validation = sources.mixed_pools(32, tmp_path, validation=True, limit=3)
    assert ("utkface", "real") not in validation.images
    assert not set(validation.groups[("dfdc", "real")]) & set(train.groups[("dfdc", "real")])


@requires_all_sources
def test_selecting_on_utkface_moves_a_tenth_of_its_photos_from_training_to_the_selection_side():
    training = sources.mixed_sets(validation=False, utkface_selection=True)[("utkface", "real")]
    selection = sources.mixed_sets(validation=True, utkface_selection=True)[("utkface", "real")]
    everything = sources.mixed_sets(validation=False)[("utkface", "real")]
    held_out = datasets.split_utkface(datasets.load_utkface())[1]
    assert {*training.files} | {*selection.files} == {*everything.files}
    assert not {*training.files} & {*selection.files}
    assert not {*selection.files} & {*held_out.files}
