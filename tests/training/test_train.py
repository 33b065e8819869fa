import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import PROJECT, balanced_validation_crops, requires_shared

from detector.analysis.scoring import FaceScorer
from detector.cli import main as cli
from detector.models import calibration, model_card
from detector.shipping import calibrate, export, ship
from detector.training import architectures, blend_boundary, datasets, run_batches, train, training_run
from detector.training.augment import AugmentationPolicy


def _short_run(tmp_path, name: str, **settings) -> train.TrainingConfig:
    """One epoch at 32 px on a few crops, everything written under ``tmp_path``."""
    return train.TrainingConfig(
        name=name,
        resolution=32,
        epochs=1,
        batch_size=16,
        run_folder=str(tmp_path / "runs"),
        models_folder=str(tmp_path / "models"),
        cache_folder=str(tmp_path / "cache"),
        **settings,
    )


def _set_first_epoch(log: Path, **figures: str) -> None:
    """Rewrites the figures of a one-epoch run's logged epoch, as if that epoch had measured them."""
    header, row = log.read_text().splitlines()
    columns = header.split(",")
    values = row.split(",")
    for column, value in figures.items():
        values[columns.index(column)] = value
    log.write_text(f"{header}\n{','.join(values)}\n")


@requires_shared
def test_a_short_run_writes_a_usable_model_and_card(tmp_path):
    config = _short_run(tmp_path, "smoke", limit=64, command="python -m detector train --name smoke")
    card_file = export.train_and_export(config)
    card = model_card.read_card("smoke", tmp_path / "models")
    assert card_file == tmp_path / "models" / "smoke.json"
    validation = card.metrics["validation"]
    assert validation["count"] == 12 and 0.0 <= validation["accuracy"] <= 1.0
    assert card.training["train_count"] == 64 and card.training["epochs_run"] == 1
    assert (tmp_path / "runs" / "smoke" / "log.csv").read_text().count("\n") == 2
    assert FaceScorer("smoke", tmp_path / "models").score(
        __import__("numpy").zeros((1, 224, 224, 3), "uint8")
    ).shape == (1,)
    assert card.training["augmentation"] == AugmentationPolicy().describe()
    # Resuming a finished run trains nothing more and exports again, with the augmentation the run recorded.
    policy_file = tmp_path / "runs" / "smoke" / training_run.POLICY_FILE
    policy_file.write_text(json.dumps({**json.loads(policy_file.read_text()), "h264": 0.0}))
    export.train_and_export(config, resume=True)
    resumed = json.loads(card_file.read_text())["training"]
    assert resumed["epochs_run"] == 1 and "H.264" not in resumed["augmentation"]
    assert [session["action"] for session in resumed["sessions"]] == ["start", "export"]


@requires_shared
def test_a_resumed_run_keeps_its_best_checkpoint_rate_and_patience(tmp_path):
    config = _short_run(tmp_path, "resumed", limit=64, patience=1)
    export.train_and_export(config)
    run = tmp_path / "runs" / "resumed"
    # Make the first epoch unbeatable: the resumed epoch must not replace best.keras, must halve the rate for the
    # next one (saved in last.keras), and with patience 1 must end the run.
    log = run / "log.csv"
    _set_first_epoch(log, val_loss="0.0")
    best = (run / "best.keras").read_bytes()
    export.train_and_export(dataclasses.replace(config, epochs=3), resume=True)
    assert (run / "best.keras").read_bytes() == best
    assert log.read_text().count("\n") == 3
    # The card says the weights shipped are the first epoch's, of two run.
    card = model_card.read_card("resumed", tmp_path / "models")
    assert (card.training["epochs_run"], card.training["exported_epoch"]) == (2, 1)
    last = keras.saving.load_model(run / "last.keras")
    assert float(last.optimizer.learning_rate) == pytest.approx(config.learning_rate / 2)
    export.train_and_export(dataclasses.replace(config, epochs=3), resume=True)
    assert log.read_text().count("\n") == 3
    # The last checkpoint can be shipped instead, to compare where the run ended with the epoch it selected.
    elsewhere = tmp_path / "last_models"
    export.train_and_export(
        dataclasses.replace(config, models_folder=str(elsewhere), export_checkpoint="last"), export_only=True
    )
    card = model_card.read_card("resumed", elsewhere)
    assert (card.training["epochs_run"], card.training["exported_epoch"]) == (2, 2)
    assert card.training["selected_on"].startswith("none: the last epoch trained")
    assert card.sha256 != model_card.read_card("resumed", tmp_path / "models").sha256
    with pytest.raises(ValueError, match="export_checkpoint must be one of"):
        train.TrainingConfig(name="x", export_checkpoint="first")


@requires_shared
def test_a_run_selected_by_roc_auc_keeps_the_epoch_of_the_highest_not_of_the_lowest_loss(tmp_path):
    config = _short_run(tmp_path, "by_auc", limit=64, patience=1, select_by="auc")
    export.train_and_export(config)
    run = tmp_path / "runs" / "by_auc"
    # The first epoch gets the best loss there can be and the worst ROC AUC: selecting by the ROC AUC, the resumed
    # epoch must replace best.keras, keep the rate, and not stop the run for a loss that did not fall.
    log = run / "log.csv"
    _set_first_epoch(log, val_loss="0.0", val_auc="0.0")
    best = (run / "best.keras").read_bytes()
    export.train_and_export(dataclasses.replace(config, epochs=2), resume=True)
    assert (run / "best.keras").read_bytes() != best
    card = model_card.read_card("by_auc", tmp_path / "models")
    assert (card.training["epochs_run"], card.training["exported_epoch"]) == (2, 2)
    assert card.training["selected_on"].startswith("the highest validation ROC AUC")
    last = keras.saving.load_model(run / "last.keras")
    assert float(last.optimizer.learning_rate) == pytest.approx(config.learning_rate)
    with pytest.raises(ValueError, match="--select-by auc"):
        export.train_and_export(dataclasses.replace(config, select_by="loss", epochs=3), resume=True)
    with pytest.raises(ValueError, match="select_by must be one of"):
        train.TrainingConfig(name="x", select_by="accuracy")


@requires_shared
def test_a_mixed_run_selecting_on_utkface_too_trains_and_ships(tmp_path):
    # Every source, a few crops each; the selection set has a tenth of UTKFace (kept out of training) and a fixed
    # self-blend of each of those photos.
    config = dataclasses.replace(
        _short_run(tmp_path, "mixed", limit=6, fakes="mixed", mix="dfdc_first", select_on="mixed_utkface"),
        input_size=64,
        steps_per_epoch=2,
        select_by="auc",
    )
    export.train_and_export(config)
    card = model_card.read_card("mixed", tmp_path / "models")
    assert card.training["selected_on"].startswith("the highest validation ROC AUC on the DFDC and FaceForensics++")
    assert "a tenth of the UTKFace photos kept out of training" in card.training["selected_on"]
    log = (tmp_path / "runs" / "mixed" / "log.csv").read_text().splitlines()
    assert len(log) == 2 and "val_auc" in log[0]


@requires_shared
def test_a_mixed_run_with_the_boundary_head_trains_it_ships_without_it_and_keeps_its_settings(tmp_path):
    config = dataclasses.replace(
        _short_run(tmp_path, "seams", limit=6, fakes="mixed", mix="dfdc_first", select_on="mixed"),
        input_size=64,
        steps_per_epoch=2,
        select_by="auc",
        boundary_weight=0.5,
        ffpp_seams=True,
    )
    export.train_and_export(config)
    run = tmp_path / "runs" / "seams"
    assert blend_boundary.has_boundary_head(keras.saving.load_model(run / "last.keras"))
    log = (run / "log.csv").read_text().splitlines()
    assert len(log) == 2 and {"val_auc", "auc", "blend_boundary_loss"} <= set(log[0].split(","))
    shipped = keras.saving.load_model(tmp_path / "models" / "seams.keras")
    assert not blend_boundary.has_boundary_head(shipped) and shipped.output_shape == (None, 1)
    card = model_card.read_card("seams", tmp_path / "models")
    assert card.training["blend_boundary"]["weight"] == 0.5
    assert card.training["blend_boundary"]["ffpp_seams"].startswith("FF++'s training fakes too")
    assert "where each self-blend was blended" in card.description
    # A resumed run keeps its head: another weight is refused, none asked for keeps 0.5.
    with pytest.raises(ValueError, match=r"--boundary-weight 0\.5"):
        train.train(dataclasses.replace(config, boundary_weight=1.0, epochs=2), resume=True)
    resumed = train.train(dataclasses.replace(config, boundary_weight=None, epochs=2), resume=True)
    assert resumed.config.boundary_weight == 0.5 and resumed.config.ffpp_seams and resumed.epochs_run == 2
    assert not blend_boundary.has_boundary_head(resumed.model)
    # A fresh run asked for FF++ seams without a boundary head is refused before it trains.
    with pytest.raises(ValueError, match="boundary weight"):
        train.train(dataclasses.replace(config, name="no_head", boundary_weight=None))


@requires_shared
def test_a_paired_mixed_run_says_so_in_its_card_and_keeps_its_pairing_when_resumed(tmp_path):
    config = dataclasses.replace(
        _short_run(tmp_path, "paired", limit=6, fakes="mixed", mix="dfdc_first", select_on="mixed"),
        input_size=64,
        steps_per_epoch=2,
        paired=True,
    )
    export.train_and_export(config)
    card = model_card.read_card("paired", tmp_path / "models")
    assert card.training["paired"].startswith("each fake beside the real it was made from")
    assert "beside the real it was made from" in card.description
    assert json.loads((tmp_path / "runs" / "paired" / "paired.json").read_text()) == {"paired": "yes"}
    resumed = train.train(dataclasses.replace(config, paired=None, epochs=2), resume=True)
    assert resumed.config.paired and resumed.epochs_run == 2
    with pytest.raises(ValueError, match="--paired"):
        train.train(dataclasses.replace(config, paired=False, epochs=3), resume=True)


@requires_shared
def test_a_sharpness_matched_run_says_so_in_its_card_and_keeps_its_matching_when_resumed(tmp_path):
    config = dataclasses.replace(
        _short_run(tmp_path, "matched", limit=6, fakes="mixed", mix="dfdc_first", select_on="mixed"),
        input_size=64,
        steps_per_epoch=2,
        match_sharpness=True,
    )
    export.train_and_export(config)
    card = model_card.read_card("matched", tmp_path / "models")
    assert card.training["match_sharpness"].startswith("each real drawn blurred (Gaussian) down to the sharpness")
    assert "samples of 6 reals" in card.training["match_sharpness"]
    assert "blurred to their fakes' softness" in card.description
    matched = tmp_path / "runs" / "matched" / "match_sharpness.json"
    assert json.loads(matched.read_text()) == {"match_sharpness": "yes"}
    resumed = train.train(dataclasses.replace(config, match_sharpness=None, epochs=2), resume=True)
    assert resumed.config.match_sharpness and resumed.epochs_run == 2
    with pytest.raises(ValueError, match="--match-sharpness"):
        train.train(dataclasses.replace(config, match_sharpness=False, epochs=3), resume=True)


def test_sharpness_matching_is_a_mixed_unpaired_runs():
    with pytest.raises(ValueError, match="fakes='mixed'"):
        train.TrainingConfig(name="x", match_sharpness=True)
    with pytest.raises(ValueError, match="unpaired"):
        train.TrainingConfig(name="x", fakes="mixed", paired=True, match_sharpness=True)
    assert train.TrainingConfig(name="x", fakes="mixed", match_sharpness=True).match_sharpness


def test_the_command_line_passes_sharpness_matching_only_when_asked(monkeypatch):
    captured = []
    monkeypatch.setattr(
        export, "train_and_export", lambda config, resume, export_only: captured.append(config) or Path("x")
    )
    assert cli.main(["train", "--name", "x", "--fakes", "mixed", "--match-sharpness"]) == 0
    assert cli.main(["train", "--name", "x", "--fakes", "mixed"]) == 0
    # Not asked: None, so that a resumed run keeps what it started with.
    assert [config.match_sharpness for config in captured] == [True, None]


def test_change_masks_need_the_boundary_head_and_are_not_ffpp_seams():
    with pytest.raises(ValueError, match="boundary weight"):
        train.TrainingConfig(name="x", fakes="mixed", change_masks=True, boundary_weight=0.0)
    with pytest.raises(ValueError, match="choose one"):
        train.TrainingConfig(name="x", fakes="mixed", change_masks=True, ffpp_seams=True, boundary_weight=1.0)


def test_paired_batches_are_for_mixed_runs_without_the_boundary_head():
    with pytest.raises(ValueError, match="mixed"):
        train.TrainingConfig(name="x", paired=True)
    with pytest.raises(ValueError, match="boundary"):
        train.TrainingConfig(name="x", fakes="mixed", paired=True, boundary_weight=1.0)


@requires_shared
def test_a_change_masks_run_learns_regions_from_dfdc_and_ffpp_pairs_and_says_so(tmp_path):
    config = dataclasses.replace(
        _short_run(tmp_path, "regions", limit=6, fakes="mixed", mix="dfdc_first", select_on="mixed"),
        input_size=64,
        steps_per_epoch=2,
        boundary_weight=1.0,
        change_masks=True,
    )
    export.train_and_export(config)
    card = model_card.read_card("regions", tmp_path / "models")
    assert card.training["blend_boundary"]["target"].startswith("the region each fake changed")
    assert "where each fake was changed" in card.description
    resumed = train.train(dataclasses.replace(config, change_masks=None, epochs=2), resume=True)
    assert resumed.config.change_masks and resumed.epochs_run == 2


def test_the_boundary_head_is_for_mixed_runs_and_its_weight_not_negative():
    with pytest.raises(ValueError, match="mixed"):
        train.TrainingConfig(name="x", boundary_weight=1.0)
    with pytest.raises(ValueError, match="at least 0"):
        train.TrainingConfig(name="x", fakes="mixed", boundary_weight=-1.0)
    with pytest.raises(ValueError, match="boundary weight"):
        train.TrainingConfig(name="x", fakes="mixed", ffpp_seams=True, boundary_weight=0.0)


def test_the_command_line_refuses_a_negative_boundary_weight(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--name", "x", "--fakes", "mixed", "--boundary-weight", "-1"])
    assert "at least 0" in capsys.readouterr().err


@requires_shared
def test_epochs_can_be_shorter_than_a_pass_over_the_crops(tmp_path):
    # 64 crops in batches of 16 are 4 batches a pass; epochs of 3 batches checkpoint and validate more often, and
    # the pass ends inside the second epoch, which must still train on its 3 batches (Keras alone gives it 1).
    config = dataclasses.replace(_short_run(tmp_path, "short_epochs", limit=64, steps_per_epoch=3), epochs=3)
    export.train_and_export(config)
    run = tmp_path / "runs" / "short_epochs"
    assert (run / "log.csv").read_text().count("\n") == 4
    assert int(keras.saving.load_model(run / "last.keras").optimizer.iterations) == 9
    card = model_card.read_card("short_epochs", tmp_path / "models")
    assert (card.training["epochs_run"], card.training["steps_per_epoch"]) == (3, 3)


class _Positions(keras.utils.PyDataset):
    """Five batches a pass, each its own position; counts the passes begun."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 1

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> tuple[int, int]:
        return self.passes, index

    def on_epoch_end(self) -> None:
        self.passes += 1


def test_epochs_of_steps_stay_whole_and_start_a_new_pass_only_between_epochs():
    epochs = run_batches.StepEpochs(_Positions(), steps=3)
    read = []
    for _ in range(4):
        # fit reads an epoch's batches in a shuffled order.
        read.append(sorted(epochs[index] for index in (2, 0, 1)))
        epochs.on_epoch_end()
    assert len(epochs) == 3
    assert read[0] == [(1, 0), (1, 1), (1, 2)]
    # The first pass ends inside the second epoch, which reads its first batch again; the next pass starts after.
    assert read[1] == [(1, 0), (1, 3), (1, 4)]
    assert read[2] == [(2, 1), (2, 2), (2, 3)]
    assert read[3] == [(2, 0), (2, 1), (2, 4)]


@requires_shared
def test_export_fits_calibration_and_thresholds_on_one_half_and_reports_the_other(tmp_path):
    validation = balanced_validation_crops()
    images = datasets.decode_images(validation.root, validation.files, 224)
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    config = train.TrainingConfig(name="exported", models_folder=str(tmp_path), command="test")
    export.export(model, config, validation, images, epochs_run=0, train_count=0, policy=run_batches.NO_AUGMENTATION)
    card = model_card.read_card("exported", tmp_path)
    assert card.training["augmentation"] == "none"
    in_half = [calibrate.in_calibration_half(group) for group in validation.groups]
    split = card.metrics["validation_split"]
    assert (split["calibration_count"], split["report_count"]) == (sum(in_half), len(in_half) - sum(in_half))
    assert card.metrics["validation"]["count"] == split["report_count"]
    assert card.calibration is not None and card.calibration.fitted_count == split["calibration_count"]
    assert card.thresholds.chosen_on.startswith("calibration half")
    assert card.metrics["decisions"]["fake_threshold"] == card.thresholds.fake
    assert card.training["validation_percent"] == 15
    # New cards score each crop with its mirror image, as the calibration was fitted.
    assert card.preprocessing.test_time_flip
    raw = ship.predict(model, images, mirror=True)
    scored = FaceScorer("exported", tmp_path).score(images)
    expected = calibration.apply(raw, card.calibration)
    np.testing.assert_allclose(scored, expected, atol=1e-4)


@requires_shared
def test_a_bfloat16_run_trains_in_bfloat16_ships_in_float32_says_so_and_resumes_only_so(tmp_path):
    config = _short_run(tmp_path, "half", limit=48, precision="mixed_bfloat16")
    export.train_and_export(config)
    assert keras.config.dtype_policy().name == "float32"  # the run's policy did not leak
    card = model_card.read_card("half", tmp_path / "models")
    assert card.training["precision"] == "mixed_bfloat16"
    assert architectures.model_precision(keras.saving.load_model(tmp_path / "runs" / "half" / "last.keras")) == (
        "mixed_bfloat16"
    )
    scorer = FaceScorer("half", tmp_path / "models")
    assert architectures.model_precision(scorer.model) == "float32"
    scores = scorer.score(np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8))
    assert scores.dtype == np.float64 and np.all((scores >= 0) & (scores <= 1))

    with pytest.raises(ValueError, match="--precision mixed_bfloat16"):
        export.train_and_export(dataclasses.replace(config, precision="float32", epochs=2), resume=True)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        train.TrainingConfig(name="x", precision="float16")


@pytest.mark.parametrize(("setting", "option"), [("patience", "--patience"), ("steps_per_epoch", "--steps-per-epoch")])
def test_patience_and_epoch_length_must_be_at_least_one(capsys, setting, option):
    with pytest.raises(ValueError, match=setting):
        train.TrainingConfig(name="x", **{setting: 0})
    with pytest.raises(SystemExit):
        cli.main(["train", "--name", "x", option, "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_the_command_line_passes_the_augmentation_asked_for(monkeypatch, capsys):
    captured = []
    monkeypatch.setattr(
        export, "train_and_export", lambda config, resume, export_only: captured.append(config) or Path("x")
    )
    assert cli.main(["train", "--name", "x", "--augment", "h264=0"]) == 0
    assert cli.main(["train", "--name", "x"]) == 0
    assert captured[0].augmentation == AugmentationPolicy(h264=0.0)
    assert captured[1].augmentation is None
    with pytest.raises(SystemExit):
        cli.main(["train", "--name", "x", "--augment", "sharpen=1"])
    assert "NAME=SHARE" in capsys.readouterr().err


@requires_shared
def test_a_run_can_select_its_epochs_on_self_blends_of_the_validation_reals(tmp_path):
    config = _short_run(tmp_path, "blends", limit=48, fakes="sbi", select_on="self_blends")
    export.train_and_export(config)
    card = model_card.read_card("blends", tmp_path / "models")
    assert card.training["selected_on"] == training_run.selection_words("self_blends", "loss")
    # The card's numbers stay DFDC's, whatever chose the epoch.
    assert card.metrics["validation"]["count_fake"] > 0
    log = (tmp_path / "runs" / "blends" / "log.csv").read_text().splitlines()
    assert "val_loss" in log[0] and len(log) == 2
    with pytest.raises(ValueError, match="--select-on self-blends"):
        export.train_and_export(dataclasses.replace(config, select_on="dfdc", epochs=2), resume=True)


def test_the_command_line_limits_tensorflow_to_the_threads_asked_for():
    # In a process of its own: TensorFlow takes thread settings only before it first runs, which this one did.
    code = (
        "import pathlib, sys\n"
        "import tensorflow as tf\n"
        "from detector.cli import main as cli\n"
        "from detector.shipping import export\n"
        "threading = tf.config.threading\n"
        "def fake_train(config, resume, export_only):\n"
        "    print(threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())\n"
        "    return pathlib.Path('x')\n"
        "export.train_and_export = fake_train\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    project = PROJECT
    ran = subprocess.run(
        [sys.executable, "-c", code, "train", "--name", "x", "--threads", "1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == "1 1"


@pytest.mark.parametrize(
    ("mix", "recorded"),
    [
        ("dfdc_first", set()),
        ("dfdc_first_regions", {"regional"}),
        ("dfdc_first_reenact", {"reenactment_proxies"}),
        ("dfdc_first_swaps", {"face_swaps"}),
        ("dfdc_first_mouths", {"mouth_transplants"}),
    ],
)
def test_a_mixed_card_records_the_fakes_its_mix_makes_beside_whole_face_blends(mix, recorded):
    records = export.synthetic_fake_records(mix)
    assert set(records) == recorded
    if "reenactment_proxies" in records:
        assert "measure the generator" in records["reenactment_proxies"]["why"]
    if "mouth_transplants" in records:
        assert "never-trained" in records["mouth_transplants"]["why"]


@pytest.mark.parametrize(
    ("mix", "fakes"),
    [
        ("dfdc_first", "with self-blended fakes, balanced"),
        ("dfdc_first_swaps", "with self-blended fakes and landmark face swaps between training people, balanced"),
        ("dfdc_first_reenact", "with self-blended fakes and reenactment proxies of the training people, balanced"),
        ("dfdc_first_mouths", "with self-blended fakes and mouth transplants between training people, balanced"),
    ],
)
def test_a_mixed_cards_description_names_every_kind_of_fake_its_mix_makes(mix, fakes):
    # The page lists an average's members by their descriptions: a member that trained on face swaps says so.
    described = export.mixed_description("compact", "trained from scratch", mix)
    assert described.startswith("compact classifier of face crops, trained from scratch on DFDC, FaceForensics++")
    assert fakes in described
