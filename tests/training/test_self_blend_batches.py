"""Balanced real/fake batches with self-blended and DFDC fakes, and the training options that choose them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED
from test_self_blend import drawn_face, drawn_landmarks

from detector.cli import main as cli
from detector.shipping import export
from detector.training import run_batches, train
from detector.training.augment import NO_AUGMENTATION, AugmentationPolicy
from detector.training.self_blend_batches import SelfBlendBatches

REAL_COUNT = 9
SIDE = 64
requires_dfdc_and_utkface = pytest.mark.skipif(
    not (SHARED / "data" / "dfdc-faces" / "labels.csv").is_file()
    or not (SHARED / "data" / "utkface" / "faces").is_dir(),
    reason=f"DFDC crops or UTKFace photos not found under {SHARED / 'data'}",
)


def make_reals() -> np.ndarray:
    """``(9, 64, 64, 3) uint8``: drawn faces, each a different brightness so that they can be told apart."""
    face = drawn_face(SIDE).astype(np.int16)
    return np.stack([np.clip(face + 6 * index - 24, 0, 255) for index in range(REAL_COUNT)]).astype(np.uint8)


REALS = make_reals()
LANDMARKS = np.repeat(drawn_landmarks(SIDE)[np.newaxis], REAL_COUNT, axis=0)
# DFDC stand-ins: flat images of distinct values no blend produces.
DFDC_FAKES = np.stack([np.full((SIDE, SIDE, 3), 250 - index, np.uint8) for index in range(5)])


def real_index(image: np.ndarray) -> int:
    """Which real an unaugmented image is, or -1."""
    matches = [index for index, real in enumerate(REALS) if np.array_equal(real, image)]
    return matches[0] if matches else -1


def corners(image: np.ndarray) -> np.ndarray:
    return image[[0, 0, -1, -1], [0, -1, 0, -1]]


def is_dfdc_fake(image: np.ndarray) -> bool:
    return any(np.array_equal(image, fake) for fake in DFDC_FAKES)


@pytest.mark.parametrize("batch_size", [2, 4, 6])
def test_sbi_batches_pair_each_real_with_its_own_blend(batch_size: int) -> None:
    batches = SelfBlendBatches(REALS, LANDMARKS, batch_size, NO_AUGMENTATION, seed=1, fakes="sbi")
    assert len(batches) == int(np.ceil(REAL_COUNT / (batch_size // 2)))
    seen = []
    for index in range(len(batches)):
        images, labels = batches[index]
        assert images.dtype == np.float32 and labels.dtype == np.float32
        count = len(labels) // 2
        assert len(labels) == 2 * count and labels.tolist() == [0.0] * count + [1.0] * count
        pixels = images.astype(np.uint8)
        for real, fake in zip(pixels[:count], pixels[count:], strict=True):
            position = real_index(real)
            assert position >= 0 and real_index(fake) == -1 and not is_dfdc_fake(fake)
            seen.append(position)
            # The blend of the same real: the corners, outside the face, are the real's own.
            np.testing.assert_array_equal(corners(fake), corners(real))
    # Every real once per epoch; the last batch is smaller when the reals do not fill it, and still balanced.
    assert sorted(seen) == list(range(REAL_COUNT))


def test_dfdc_batches_take_their_fakes_from_the_dfdc_crops() -> None:
    batches = SelfBlendBatches(REALS, None, 4, NO_AUGMENTATION, seed=0, fakes="dfdc", dfdc_fakes=DFDC_FAKES)
    fakes = []
    for index in range(len(batches)):
        images, labels = batches[index]
        count = len(labels) // 2
        assert all(real_index(image) >= 0 for image in images[:count].astype(np.uint8))
        fakes.extend(images[count:].astype(np.uint8))
        assert labels[count:].all() and not labels[:count].any()
    assert all(is_dfdc_fake(fake) for fake in fakes)
    # Nine fake slots from five fakes: all five used, in a cycle.
    assert len({int(fake[0, 0, 0]) for fake in fakes}) == 5


def test_both_splits_the_fakes_between_blends_and_dfdc() -> None:
    batches = SelfBlendBatches(REALS, LANDMARKS, 8, NO_AUGMENTATION, seed=3, fakes="both", dfdc_fakes=DFDC_FAKES)
    images, labels = batches[0]
    fakes = images[4:].astype(np.uint8)
    assert labels.tolist() == [0.0] * 4 + [1.0] * 4
    assert sum(is_dfdc_fake(fake) for fake in fakes) == 2
    assert sum(not is_dfdc_fake(fake) and real_index(fake) == -1 for fake in fakes) == 2


def test_reals_without_a_mesh_are_never_blended() -> None:
    landmarks = np.full_like(LANDMARKS, np.nan)
    landmarks[3] = LANDMARKS[3]
    batches = SelfBlendBatches(REALS, landmarks, 6, NO_AUGMENTATION, seed=0, fakes="sbi")
    for index in range(len(batches)):
        images, labels = batches[index]
        count = len(labels) // 2
        for fake in images[count:].astype(np.uint8):
            np.testing.assert_array_equal(corners(fake), corners(REALS[3]))


def test_batches_are_repeatable_and_reshuffled_each_epoch() -> None:
    first = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=7)
    second = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=7)
    # The same batch whatever order it is asked for in.
    later = first[2]
    first[0]
    np.testing.assert_array_equal(first[2][0], later[0])
    np.testing.assert_array_equal(second[2][0], later[0])
    order = first.order.copy()
    first.on_epoch_end()
    assert not np.array_equal(first.order, order)
    assert sorted(first.order) == list(range(REAL_COUNT))


def test_the_augmentation_policy_applies_after_blending() -> None:
    flip_only = AugmentationPolicy(flip=1.0, color=0.0, blur=0.0, rescale=0.0, jpeg=0.0)
    plain = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=2)[0][0]
    flipped = SelfBlendBatches(REALS, LANDMARKS, 4, flip_only, seed=2)[0][0]
    # Reals and fakes alike; the blend itself is the same (the policy draws after it).
    np.testing.assert_array_equal(flipped, plain[:, :, ::-1])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_size": 5}, "even"),
        ({"fakes": "gan"}, "fakes must be one of"),
        ({"fakes": "both"}, "needs DFDC fake crops"),
        ({"real_landmarks": None}, "one face mesh per real"),
        ({"real_landmarks": np.full_like(LANDMARKS, np.nan)}, "no real has a trusted face mesh"),
        ({"reals": REALS[:0], "real_landmarks": LANDMARKS[:0]}, "non-empty"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict, message: str) -> None:
    options = {"reals": REALS, "real_landmarks": LANDMARKS, "batch_size": 4, "policy": NO_AUGMENTATION, "seed": 0}
    with pytest.raises(ValueError, match=message):
        SelfBlendBatches(**{**options, **arguments})


def test_a_batch_past_the_end_is_an_index_error() -> None:
    batches = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=0)
    with pytest.raises(IndexError):
        batches[len(batches)]


def test_training_options_default_to_dfdc_and_are_checked() -> None:
    config = train.TrainingConfig(name="x")
    assert config.fakes == "dfdc" and config.extra_reals is None
    with pytest.raises(ValueError, match="fakes"):
        train.TrainingConfig(name="x", fakes="gan")
    with pytest.raises(ValueError, match="extra_reals"):
        train.TrainingConfig(name="x", extra_reals="ffhq")


@pytest.mark.parametrize(
    ("flags", "fakes", "extra_reals"),
    [
        ([], "dfdc", None),
        (["--fakes", "sbi"], "sbi", None),
        (["--fakes", "both", "--extra-reals", "utkface"], "both", "utkface"),
        (["--extra-reals", "utkface-except-selection"], "dfdc", "utkface_except_selection"),
    ],
)
def test_the_command_line_passes_the_training_options(monkeypatch, flags, fakes, extra_reals) -> None:
    captured = {}

    def fake_train(config: train.TrainingConfig, resume: bool, export_only: bool) -> Path:
        captured["config"] = config
        return Path("models/x.json")

    monkeypatch.setattr(export, "train_and_export", fake_train)
    assert cli.main(["train", "--name", "x", *flags]) == 0
    assert captured["config"].fakes == fakes and captured["config"].extra_reals == extra_reals


def test_the_command_line_refuses_unknown_fakes() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--name", "x", "--fakes", "gan"])


def read_dfdc(label: str, count: int) -> list[np.ndarray]:
    root = SHARED / "data" / "dfdc-faces"
    with (root / "labels.csv").open(newline="") as handle:
        names = [row["file"] for row in csv.DictReader(handle) if row["label"] == label][:count]
    return [cv2.cvtColor(cv2.imread(str(root / "faces" / name)), cv2.COLOR_BGR2RGB) for name in names]


@requires_dfdc_and_utkface
def test_training_batches_follow_the_configuration(tmp_path) -> None:
    images = np.stack(read_dfdc("REAL", 6) + read_dfdc("FAKE", 2))
    labels = np.array([0] * 6 + [1] * 2, np.int32)

    def batches(**options: object):
        config = train.TrainingConfig(name="x", batch_size=4, cache_folder=str(tmp_path), **options)
        return run_batches.training_batches(config, images, labels, initial_epoch=0, policy=AugmentationPolicy())

    default = batches()
    assert isinstance(default, run_batches.CropBatches) and len(default.images) == 8
    with_utkface = batches(extra_reals="utkface", limit=3)
    assert (
        isinstance(with_utkface, run_batches.CropBatches)
        and with_utkface.labels.tolist() == [0] * 6 + [1] * 2 + [0] * 3
    )
    sbi = batches(fakes="sbi", extra_reals="utkface", limit=3)
    assert isinstance(sbi, SelfBlendBatches) and len(sbi.reals) == 9 and sbi.dfdc_fakes is None
    assert sbi.valid.sum() >= 8
    assert len(list(tmp_path.glob("landmarks-9-*.npy"))) == 1
    both = batches(fakes="both")
    assert len(both.reals) == 6 and len(both.dfdc_fakes) == 2
    images_out, labels_out = both[0]
    assert images_out.shape == (4, 224, 224, 3) and labels_out.tolist() == [0, 0, 1, 1]


@requires_dfdc_and_utkface
@pytest.mark.parametrize("extra_reals", ["utkface", "utkface_except_selection"])
def test_the_card_records_the_fakes_and_extra_reals(tmp_path, extra_reals) -> None:
    from detector.models import model_card
    from detector.training import architectures, datasets

    # 20 real and 20 fake crops of the validation split: enough for both calibration halves.
    _, validation = datasets.split_by_group(datasets.load_dfdc_faces(), 15)
    keep = np.zeros(len(validation), bool)
    for label in (0, 1):
        keep[np.flatnonzero(validation.labels == label)[:20]] = True
    validation = validation.subset(keep)
    images = datasets.decode_images(validation.root, validation.files, 224)
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    config = train.TrainingConfig(
        name="sbi", models_folder=str(tmp_path), command="test", fakes="both", extra_reals=extra_reals
    )
    export.export(model, config, validation, images, epochs_run=0, train_count=0, policy=AugmentationPolicy())
    card = model_card.read_card("sbi", tmp_path)
    assert card.training["fakes"] == "both" and card.training["extra_reals"] == extra_reals
    assert "; ../shared/data/utkface (UTKFace real face photos, except the quarter held out" in card.training["data"]
    assert ("the tenth later stages select on" in card.training["data"]) == (extra_reals != "utkface")
    assert card.training["self_blend"]["blend_ratios"] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert "fakes: both" in card.description


def test_fixed_batches_stay_the_same_every_epoch():
    fixed = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=3, fixed=True)
    moving = SelfBlendBatches(REALS, LANDMARKS, 4, NO_AUGMENTATION, seed=3)
    first, moving_first = fixed[0][0], moving[0][0]
    fixed.on_epoch_end()
    moving.on_epoch_end()
    np.testing.assert_array_equal(fixed[0][0], first)
    assert not np.array_equal(moving[0][0], moving_first)


@requires_dfdc_and_utkface
def test_validation_batches_follow_the_selection(tmp_path) -> None:
    images = np.stack(read_dfdc("REAL", 6) + read_dfdc("FAKE", 2))
    labels = np.array([0] * 6 + [1] * 2, np.int32)

    def batches(select_on: str):
        config = train.TrainingConfig(name="x", cache_folder=str(tmp_path), select_on=select_on)
        return run_batches.validation_batches(config, images, labels)

    dfdc = batches("dfdc")
    assert isinstance(dfdc, run_batches.CropBatches) and dfdc.labels.tolist() == labels.tolist()
    blends = batches("self_blends")
    # The six reals and a self-blend of each, no DFDC fake: the labels used are the reals' only.
    assert isinstance(blends, SelfBlendBatches) and blends.fixed and len(blends.reals) == 6
    assert blends.dfdc_fakes is None and blends.policy is NO_AUGMENTATION
    _, batch_labels = blends[0]
    assert batch_labels.tolist() == [0] * 6 + [1] * 6


def test_what_a_run_selects_on_must_be_known() -> None:
    # That a run keeps it for life: tests/training/test_training_run.py.
    with pytest.raises(ValueError, match="select_on must be one of"):
        train.TrainingConfig(name="x", select_on="utkface")


def test_the_command_line_passes_the_selection(monkeypatch) -> None:
    captured = []
    monkeypatch.setattr(
        export, "train_and_export", lambda config, resume, export_only: captured.append(config) or Path("x")
    )
    assert cli.main(["train", "--name", "x", "--fakes", "sbi", "--select-on", "self-blends", "--select-by", "auc"]) == 0
    assert cli.main(["train", "--name", "x"]) == 0
    assert [config.select_on for config in captured] == ["self_blends", None]
    assert [config.select_by for config in captured] == ["auc", None]
    assert cli.main(["train", "--name", "x", "--export-only", "--export-checkpoint", "last"]) == 0
    assert [config.export_checkpoint for config in captured] == ["best", "best", "last"]
