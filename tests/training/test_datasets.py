import cv2
import numpy as np
import pytest
from conftest import requires_shared

from detector.errors import DatasetError
from detector.training import datasets, run_batches, train


def write_crops(folder, count=6):
    folder.mkdir()
    rows = ["file,label,group"]
    for index in range(count):
        image = np.full((40, 40, 3), index * 30, np.uint8)
        cv2.imwrite(str(folder / f"{index}.jpg"), image)
        rows.append(f"{index}.jpg,{'FAKE' if index % 2 else 'REAL'},g{index // 2}")
    labels = folder.parent / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def test_split_by_group_never_shares_a_group():
    groups = tuple(f"group{i // 2}" for i in range(400))
    crops = datasets.CropSet(
        root=None, files=tuple(map(str, range(400))), labels=np.zeros(400, np.int32), groups=groups
    )
    train, validation = datasets.split_by_group(crops, 20)
    assert not set(train.groups) & set(validation.groups)
    assert len(train) + len(validation) == 400
    assert 40 <= len(validation) <= 120  # about 20 % of the groups
    again_train, _ = datasets.split_by_group(crops, 20)
    assert again_train.files == train.files  # stable


def test_read_labels_and_decode_with_cache(tmp_path):
    labels = write_crops(tmp_path / "faces")
    crops = datasets.read_labels(labels, tmp_path / "faces")
    assert list(crops.labels) == [0, 1, 0, 1, 0, 1]
    assert crops.groups[:2] == ("g0", "g0")
    images = datasets.decode_images(crops.root, crops.files, 32, tmp_path / "cache")
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    assert abs(int(images[2].mean()) - 60) <= 2
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    np.testing.assert_array_equal(datasets.decode_images(crops.root, crops.files, 32, tmp_path / "cache"), images)


def test_a_cache_file_appears_only_when_whole(tmp_path, monkeypatch):
    """A second run reading ``.cache/`` while the first writes must find the whole file or none."""
    path = tmp_path / "cache" / "images.npy"
    array = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    seen_while_writing = []
    real_save = np.save

    def save_and_look(file, data):
        real_save(file, data)
        seen_while_writing.append(path.exists())

    monkeypatch.setattr(datasets.np, "save", save_and_look)
    datasets.save_cache(path, array)
    assert seen_while_writing == [False]
    np.testing.assert_array_equal(np.load(path), array)
    assert [file.name for file in path.parent.iterdir()] == ["images.npy"]  # no partial file left behind


def test_a_cache_write_that_fails_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(file, data):
        file.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datasets.np, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        datasets.save_cache(tmp_path / "cache" / "images.npy", np.zeros(3))
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,label\na.jpg,REAL\n", "file,label"),
        ("file,label\na.jpg,MAYBE\n", "REAL or FAKE"),
        ("file,label\n", "no rows"),
    ],
)
def test_bad_label_files(tmp_path, content, message):
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        datasets.read_labels(path, tmp_path)


def test_unreadable_image(tmp_path):
    (tmp_path / "x.jpg").write_text("not an image")
    with pytest.raises(DatasetError, match="cannot read"):
        datasets.read_image(tmp_path / "x.jpg", 32)


@requires_shared
def test_dfdc_faces_split_is_balanced_and_disjoint():
    crops = datasets.load_dfdc_faces()
    assert len(crops) == 29164
    train, validation = datasets.split_by_group(crops, 15)
    assert not set(train.groups) & set(validation.groups)
    assert 0.12 < len(validation) / len(crops) < 0.18
    assert 0.4 < validation.labels.mean() < 0.6


@requires_shared
def test_a_quarter_of_utkface_is_held_out_and_never_trained_on():
    photos = datasets.load_utkface()
    train_part, held_out = datasets.split_utkface(photos)
    assert set(train_part.files).isdisjoint(held_out.files)
    assert len(train_part) + len(held_out) == len(photos)
    assert 0.2 < len(held_out) / len(photos) < 0.3
    assert datasets.split_utkface(photos)[1].files == held_out.files  # stable between runs
    config = train.TrainingConfig(name="x", extra_reals="utkface")
    assert set(run_batches.load_extra_reals(config).files) == set(train_part.files)


@requires_shared
def test_utkface_except_selection_trains_on_neither_the_held_out_quarter_nor_the_selection_tenth():
    train_part, _ = datasets.split_utkface(datasets.load_utkface())
    kept, selection = datasets.split_utkface_selection(train_part)
    config = train.TrainingConfig(name="x", extra_reals="utkface_except_selection")
    extra = set(run_batches.load_extra_reals(config).files)
    assert extra == set(kept.files) and not extra & set(selection.files)
    assert len(selection) > 500  # a tenth of 9,780 photos, really left out


def test_the_utkface_selection_tenth_comes_from_the_training_photos_and_never_from_the_held_out_quarter():
    names = tuple(f"{index}_photo.jpg" for index in range(4000))
    photos = datasets.CropSet(root=None, files=names, labels=np.zeros(len(names), np.int32), groups=names)
    training, held_out = datasets.split_utkface(photos)
    kept_training, selection = datasets.split_utkface_selection(training)
    assert len(kept_training) + len(selection) == len(training)
    assert not {*selection.files} & {*held_out.files} and not {*selection.files} & {*kept_training.files}
    assert 0.08 < len(selection) / len(photos) < 0.12  # a tenth of the collection
    assert datasets.split_utkface_selection(training)[1].files == selection.files  # stable between runs
    with pytest.raises(ValueError, match="without the held-out quarter"):
        datasets.split_utkface_selection(photos)
