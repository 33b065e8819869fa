import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import requires_shared, shipped_models

from detector import architectures, calibration, cli, datasets, model_card, presentation, train
from detector.errors import ModelCardError
from detector.scoring import FaceScorer


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


@requires_shared
def test_a_short_run_writes_a_usable_model_and_card(tmp_path):
    config = _short_run(tmp_path, "smoke", limit=64, command="python -m detector train --name smoke")
    card_file = train.train(config)
    card = model_card.read_card("smoke", tmp_path / "models")
    assert card_file == tmp_path / "models" / "smoke.json"
    validation = card.metrics["validation"]
    assert validation["count"] == 12 and 0.0 <= validation["accuracy"] <= 1.0
    assert card.training["train_count"] == 64 and card.training["epochs_run"] == 1
    assert (tmp_path / "runs" / "smoke" / "log.csv").read_text().count("\n") == 2
    assert FaceScorer("smoke", tmp_path / "models").score(
        __import__("numpy").zeros((1, 224, 224, 3), "uint8")
    ).shape == (1,)
    assert card.training["augmentation"] == train.AugmentationPolicy().describe()
    # Resuming a finished run trains nothing more and exports again, with the augmentation the run recorded.
    policy_file = tmp_path / "runs" / "smoke" / train.POLICY_FILE
    policy_file.write_text(json.dumps({**json.loads(policy_file.read_text()), "h264": 0.0}))
    train.train(config, resume=True)
    resumed = json.loads(card_file.read_text())["training"]
    assert resumed["epochs_run"] == 1 and "H.264" not in resumed["augmentation"]
    assert [session["action"] for session in resumed["sessions"]] == ["start", "export"]


def test_the_plateau_schedule_halves_after_each_stalled_epoch_and_stops_after_patience_in_a_row():
    # The validation losses of runs/resnet50_v1b, epochs 1-12, with the rates Keras logged for epochs 2-12.
    losses = [0.686, 1.118, 0.634, 0.775, 0.631, 0.677, 0.625, 0.580, 0.576, 0.573, 0.560, 0.562]
    logged = [1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4]
    rates = [train.plateau_schedule(losses[:n], 1e-3, patience=4)[0] for n in range(1, 12)]
    assert rates == pytest.approx(logged)
    assert train.plateau_schedule(losses, 1e-3, patience=4) == (pytest.approx(6.25e-5), False)
    assert train.plateau_schedule([], 1e-3, patience=4) == (1e-3, False)
    assert train.plateau_schedule([*losses, 0.57, 0.58, 0.56], 1e-3, patience=4)[1] is True
    assert train.plateau_schedule([*losses, 0.57, 0.58, 0.55], 1e-3, patience=4)[1] is False
    assert train.plateau_schedule([1.0] + [2.0] * 20, 1e-3, patience=99)[0] == 1e-5


@requires_shared
def test_a_resumed_run_keeps_its_best_checkpoint_rate_and_patience(tmp_path):
    config = _short_run(tmp_path, "resumed", limit=64, patience=1)
    train.train(config)
    run = tmp_path / "runs" / "resumed"
    # Make the first epoch unbeatable: the resumed epoch must not replace best.keras, must halve the rate for the
    # next one (saved in last.keras), and with patience 1 must end the run.
    log = run / "log.csv"
    header, row = log.read_text().splitlines()
    columns = header.split(",")
    values = row.split(",")
    values[columns.index("val_loss")] = "0.0"
    log.write_text(f"{header}\n{','.join(values)}\n")
    best = (run / "best.keras").read_bytes()
    train.train(dataclasses.replace(config, epochs=3), resume=True)
    assert (run / "best.keras").read_bytes() == best
    assert log.read_text().count("\n") == 3
    # The card says the weights shipped are the first epoch's, of two run.
    card = model_card.read_card("resumed", tmp_path / "models")
    assert (card.training["epochs_run"], card.training["exported_epoch"]) == (2, 1)
    last = keras.saving.load_model(run / "last.keras")
    assert float(last.optimizer.learning_rate) == pytest.approx(config.learning_rate / 2)
    train.train(dataclasses.replace(config, epochs=3), resume=True)
    assert log.read_text().count("\n") == 3


def test_a_run_keeps_the_augmentation_it_started_with(tmp_path):
    fresh = train.run_policy(tmp_path, fresh=True)
    assert fresh == train.AugmentationPolicy()
    (tmp_path / train.POLICY_FILE).write_text(
        json.dumps({**json.loads((tmp_path / train.POLICY_FILE).read_text()), "jpeg": 0.9})
    )
    assert train.run_policy(tmp_path, fresh=False).jpeg == 0.9
    assert train.run_policy(tmp_path, fresh=True).jpeg == train.AugmentationPolicy().jpeg


def test_a_fresh_run_records_the_augmentation_asked_for_and_a_resume_refuses_another(tmp_path):
    asked = train.AugmentationPolicy(h264=0.0)
    assert train.run_policy(tmp_path, fresh=True, requested=asked) == asked
    assert train.run_policy(tmp_path, fresh=False) == asked
    assert train.run_policy(tmp_path, fresh=False, requested=asked) == asked
    with pytest.raises(ValueError, match="started with augmentation"):
        train.run_policy(tmp_path, fresh=False, requested=train.AugmentationPolicy())


def test_a_run_from_before_policies_were_recorded_gets_the_default(tmp_path):
    assert train.run_policy(tmp_path, fresh=False) == train.AugmentationPolicy()
    assert (tmp_path / train.POLICY_FILE).is_file()


def _balanced_validation_crops(per_class: int = 40):
    """The first ``per_class`` fake and real crops of the DFDC validation split (enough for both halves)."""
    _, validation = datasets.split_by_group(datasets.load_dfdc_faces(), 15)
    keep = np.zeros(len(validation), bool)
    for label in (0, 1):
        keep[np.flatnonzero(validation.labels == label)[:per_class]] = True
    return validation.subset(keep)


@requires_shared
def test_export_fits_calibration_and_thresholds_on_one_half_and_reports_the_other(tmp_path):
    validation = _balanced_validation_crops()
    images = datasets.decode_images(validation.root, validation.files, 224)
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    config = train.TrainingConfig(name="exported", models_folder=str(tmp_path), command="test")
    train.export(model, config, validation, images, epochs_run=0, train_count=0, policy=train.NO_AUGMENTATION)
    card = model_card.read_card("exported", tmp_path)
    assert card.training["augmentation"] == "none"
    in_half = [calibration.in_calibration_half(group) for group in validation.groups]
    split = card.metrics["validation_split"]
    assert (split["calibration_count"], split["report_count"]) == (sum(in_half), len(in_half) - sum(in_half))
    assert card.metrics["validation"]["count"] == split["report_count"]
    assert card.calibration is not None and card.calibration.fitted_count == split["calibration_count"]
    assert card.thresholds.chosen_on.startswith("calibration half")
    assert card.metrics["decisions"]["fake_threshold"] == card.thresholds.fake
    assert card.training["validation_percent"] == 15
    # New cards score each crop with its mirror image, as the calibration was fitted.
    assert card.preprocessing.test_time_flip
    raw = train.predict(model, images, mirror=True)
    scored = FaceScorer("exported", tmp_path).score(images)
    expected = calibration.apply(raw, card.calibration)
    np.testing.assert_allclose(scored, expected, atol=1e-4)


@requires_shared
def test_calibrate_rewrites_the_card_of_a_shipped_model_and_leaves_its_weights(
    tiny_models_folder, tmp_path, monkeypatch, capsys
):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    before = model_card.read_card("tiny", tmp_path)
    validation = _balanced_validation_crops()
    monkeypatch.setattr(datasets, "load_dfdc_faces", lambda: validation)
    argv = ["calibrate", "--name", "tiny", "--models-folder", str(tmp_path), "--cache-folder", str(tmp_path / "c")]
    assert cli.main(argv) == 0
    assert "card rewritten, weights unchanged" in capsys.readouterr().out
    after = model_card.read_card("tiny", tmp_path)
    assert after.sha256 == before.sha256 == model_card.file_sha256(tmp_path / "tiny.keras")
    assert before.calibration is None and after.calibration is not None
    assert after.metrics["validation"]["count"] == after.metrics["validation_split"]["report_count"] < len(validation)
    assert after.thresholds.chosen_on.startswith("calibration half")
    assert after.training == {**before.training, "validation_percent": 15}
    assert after.calibration.method == "platt"  # the default
    FaceScorer("tiny", tmp_path)  # the sha256 check passes

    assert cli.main([*argv, "--method", "temperature"]) == 0
    assert "calibration temperature " in capsys.readouterr().out
    by_temperature = model_card.read_card("tiny", tmp_path).calibration
    assert by_temperature.method == "temperature" and by_temperature.bias == 0.0

    with open(tmp_path / "tiny.keras", "ab") as handle:
        handle.write(b"tampered")
    assert cli.main(argv) == 1
    assert "do not match" in capsys.readouterr().err


@requires_shared
def test_quantize_stores_8_bit_weights_and_measures_that_quality_did_not_move(
    tiny_models_folder, tmp_path, monkeypatch, capsys
):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    validation = _balanced_validation_crops()
    monkeypatch.setattr(datasets, "load_dfdc_faces", lambda: validation)
    argv = ["quantize", "--name", "tiny", "--models-folder", str(tmp_path), "--cache-folder", str(tmp_path / "c")]
    assert cli.main(["calibrate", *argv[1:], "--method", "temperature"]) == 0
    assert cli.main(argv) == 0
    assert model_card.read_card("tiny", tmp_path).calibration.method == "temperature"  # refitted the same way
    assert "(8-bit)" in capsys.readouterr().out
    assert not (tmp_path / "tiny.keras").exists()
    card = model_card.read_card("tiny", tmp_path)
    storage = card.metrics["storage"]
    assert card.sha256 == model_card.file_sha256(tmp_path / "tiny.int8.npz")
    assert storage["count"] == len(validation) and storage["tensors_8bit"] > 0
    assert abs(storage["roc_auc_8bit"] - storage["roc_auc_float32"]) < 0.05
    assert 0 <= storage["mean_probability_change"] <= storage["largest_probability_change"] < 0.05
    assert card.calibration is not None and "validation" in card.metrics
    FaceScorer("tiny", tmp_path)  # the new sha256 check passes

    assert cli.main(["calibrate", *argv[1:]]) == 0
    assert model_card.read_card("tiny", tmp_path).metrics["storage"] == storage
    assert cli.main(argv) == 1
    assert "already stored" in capsys.readouterr().err


@requires_shared
def test_combine_saves_one_averaging_model_with_its_own_calibration(tiny_models_folder, tmp_path, monkeypatch, capsys):
    shutil.copy(tiny_models_folder / "tiny.keras", tmp_path / "tiny.keras")
    shutil.copy(tiny_models_folder / "tiny.json", tmp_path / "tiny.json")
    other = architectures.build_classifier("compact", input_size=224, resolution=48)
    train.save_with_card(
        other,
        "other",
        tmp_path,
        "compact",
        "second untrained model",
        {"data": "none", "fakes": "both"},
        {},
        limitations=train.training_limitations("both"),
    )
    validation = _balanced_validation_crops()
    monkeypatch.setattr(datasets, "load_dfdc_faces", lambda: validation)
    argv = ["combine", "--name", "pair", "--member", "tiny", "--member", "other"]
    argv += ["--models-folder", str(tmp_path), "--cache-folder", str(tmp_path / "c")]
    assert cli.main(argv) == 0
    assert "pair: mean of tiny, other" in capsys.readouterr().out
    card = model_card.read_card("pair", tmp_path)
    assert card.architecture == "average(compact, compact)" and card.preprocessing.test_time_flip
    assert card.training["members"] == ["tiny: untrained model for plumbing tests", "other: second untrained model"]
    assert card.calibration is not None and card.metrics["validation"]["count"] > 0
    assert "combine --name pair" in card.training["command"]
    assert card.limitations == (
        "Averages models trained on DFDC face swaps (tiny, other) and on self-blended real faces (other): other "
        "manipulation methods, above all those that leave no blending trace (fully generated or re-enacted faces), "
        "may go unnoticed.",
        train.FACES_ONLY,
    )
    assert card.training["fakes_by_model"] == {"tiny": "dfdc", "other": "both"}
    assert "fakes" not in card.training  # its members saw different fakes
    pair, tiny, second = (FaceScorer(name, tmp_path) for name in ("pair", "tiny", "other"))
    crops = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    expected = (tiny.score_uncalibrated(crops) + second.score_uncalibrated(crops)) / 2
    # Each member scores mirrored inside the pair (the pair's card asks for it); the tiny cards do not.
    mirrored = (tiny.score_uncalibrated(crops[:, :, ::-1]) + second.score_uncalibrated(crops[:, :, ::-1])) / 2
    np.testing.assert_allclose(pair.score_uncalibrated(crops), (expected + mirrored) / 2, atol=1e-5)


def _card_trained_on(name: str, fakes: str | None) -> model_card.ModelCard:
    card = model_card.ModelCard.from_dict(json.loads(model_card.card_path("compact_v1").read_text()))
    training = {"data": "x"} if fakes is None else {"data": "x", "fakes": fakes}
    limitations = train.training_limitations(fakes or "dfdc")
    return dataclasses.replace(card, name=name, training=training, limitations=limitations)


def test_an_average_states_one_training_limitation_that_fits_all_its_members():
    same = train.average_limitations([_card_trained_on("a", "both"), _card_trained_on("b", "both")])
    assert same == train.training_limitations("both")
    mixed = train.average_limitations([_card_trained_on("a", "dfdc"), _card_trained_on("b", "sbi")])
    assert mixed[0].startswith("Averages models trained on DFDC face swaps (a) and on self-blended real faces (b)")
    assert mixed[1:] == (train.FACES_ONLY,)
    with pytest.raises(ModelCardError, match="the cards of c do not say which fakes"):
        train.average_limitations([_card_trained_on("a", "dfdc"), _card_trained_on("c", None)])


def test_an_average_of_an_average_names_every_network_once_in_one_statement():
    inner_members = [_card_trained_on("a", "dfdc"), _card_trained_on("b", "both")]
    inner = dataclasses.replace(
        _card_trained_on("ab", None),
        training={"data": "x", "fakes_by_model": train.fakes_by_model(inner_members)},
        limitations=train.average_limitations(inner_members),
    )
    outer = train.average_limitations([inner, _card_trained_on("c", "sbi")])
    assert outer[0].startswith(
        "Averages models trained on DFDC face swaps (a, b) and on self-blended real faces (b, c)"
    )
    assert outer[1:] == (train.FACES_ONLY,)


def test_models_scored_together_name_the_limitations_only_some_of_them_state():
    cards = [_card_trained_on("a", "dfdc"), _card_trained_on("b", "both"), _card_trained_on("c", "both")]
    assert model_card.limitations_of(cards) == (
        train.FAKES_SEEN["dfdc"].rstrip(".") + " (a).",
        train.FACES_ONLY,
        train.FAKES_SEEN["both"].rstrip(".") + " (b, c).",
    )
    assert model_card.limitations_of(cards[:1]) == cards[0].limitations


@pytest.mark.parametrize("name", shipped_models())
def test_each_shipped_card_states_the_limitations_its_training_implies(name):
    card = model_card.read_card(name)
    if card.architecture.startswith("average("):
        members = [model_card.read_card(member.split(":")[0]) for member in card.training["members"]]
        assert card.limitations == train.average_limitations(members)
    else:
        assert card.limitations == train.training_limitations(card.training["fakes"])


def test_an_average_names_each_training_source_of_its_members_once():
    dfdc = "../shared/data/dfdc-faces (DFDC face crops, 224x224)"
    utk = "../shared/data/utkface (UTKFace real face photos, except the quarter held out for testing)"
    data = train.combined_training_data([dfdc, f"{dfdc}; {utk}", f"{utk}; {dfdc}"])
    assert data == f"{dfdc}; {utk}"
    assert train.combined_training_data(["none"]) == "none"


@requires_shared
def test_a_bfloat16_run_trains_in_bfloat16_ships_in_float32_says_so_and_resumes_only_so(tmp_path):
    config = _short_run(tmp_path, "half", limit=48, precision="mixed_bfloat16")
    train.train(config)
    assert keras.config.dtype_policy().name == "float32"  # the run's policy did not leak
    card = model_card.read_card("half", tmp_path / "models")
    assert card.training["precision"] == "mixed_bfloat16"
    assert train.model_precision(keras.saving.load_model(tmp_path / "runs" / "half" / "last.keras")) == (
        "mixed_bfloat16"
    )
    scorer = FaceScorer("half", tmp_path / "models")
    assert train.model_precision(scorer.model) == "float32"
    scores = scorer.score(np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8))
    assert scores.dtype == np.float64 and np.all((scores >= 0) & (scores <= 1))

    with pytest.raises(ValueError, match="--precision mixed_bfloat16"):
        train.train(dataclasses.replace(config, precision="float32", epochs=2), resume=True)


def test_a_float32_copy_scores_like_the_bfloat16_model_it_copies():
    config = train.TrainingConfig(name="x", architecture="compact", input_size=64, resolution=32)
    with train.dtype_policy("mixed_bfloat16"):
        mixed = architectures.build_classifier("compact", 64, 32)
    copy = train.float32_copy(mixed, config)
    assert train.model_precision(copy) == "float32"
    crops = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3)).astype(np.float32)
    expected = mixed.predict(crops, verbose=0)
    np.testing.assert_allclose(copy.predict(crops, verbose=0), expected, atol=0.02)
    for kept, original in zip(copy.weights, mixed.weights, strict=True):
        np.testing.assert_array_equal(kept.numpy(), original.numpy())


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        train.TrainingConfig(name="x", precision="float16")


def test_init_weights_load_where_they_fit_and_a_file_that_fits_nothing_is_refused(tmp_path, caplog):
    source = architectures.build_classifier("compact", input_size=224, resolution=48)
    for variable in source.weights:
        variable.assign(variable.numpy() + 0.25)  # unlike any fresh start, so a skipped array shows
    source.save(tmp_path / "start.keras")

    same = architectures.build_classifier("compact", input_size=224, resolution=48)
    assert train.load_initial_weights(same, tmp_path / "start.keras") == len(same.weights)
    for loaded, saved in zip(same.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())

    wider = architectures.build_classifier("compact_wide", input_size=224, resolution=48)
    start = [variable.numpy() for variable in wider.weights]
    with caplog.at_level("WARNING", logger="detector.train"):
        loaded = train.load_initial_weights(wider, tmp_path / "start.keras")
    assert 0 < loaded < len(wider.weights)
    assert f"{loaded} of {len(wider.weights)} weight arrays loaded" in caplog.text
    kept = [np.array_equal(variable.numpy(), fresh) for variable, fresh in zip(wider.weights, start, strict=True)]
    assert sum(kept) == len(wider.weights) - loaded  # the skipped ones got their random start back, not NaN

    with pytest.raises(ValueError, match=r"none of the model's .* weight arrays matched"):
        train.load_initial_weights(architectures.build_classifier("vgg16", 224, 32), tmp_path / "start.keras")


def test_init_loads_a_keras_applications_style_backbone_file_by_name_into_the_backbone(tmp_path, caplog):
    # Keras applications ship ImageNet weights as legacy HDF5 files of the backbone alone (include_top=False),
    # its layers named as in keras.applications; made here from an untrained backbone, nothing downloaded.
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    for variable in backbone.weights:
        variable.assign(variable.numpy() + 0.25)
    with h5py.File(tmp_path / "resnet50_notop.h5", "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, backbone)

    model = architectures.build_classifier("resnet50", input_size=64, resolution=32)
    head = [variable.numpy() for variable in model.get_layer("fake_probability").weights]
    with caplog.at_level("WARNING", logger="detector.train"):
        loaded = train.load_initial_weights(model, tmp_path / "resnet50_notop.h5")
    assert loaded == len(backbone.weights) == len(model.weights) - 2
    assert "fake_probability" in caplog.text  # the head is named as keeping its random start
    nested = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for loaded_variable, saved in zip(nested.weights, backbone.weights, strict=True):
        np.testing.assert_array_equal(loaded_variable.numpy(), saved.numpy())
    for variable, fresh in zip(model.get_layer("fake_probability").weights, head, strict=True):
        np.testing.assert_array_equal(variable.numpy(), fresh)


def test_each_invocation_of_a_run_is_recorded_with_the_code_that_ran_it(tmp_path):
    config = dataclasses.replace(_short_run(tmp_path, "sessions"), command="python -m detector train --name x")
    run = tmp_path / "runs" / "sessions"
    run.mkdir(parents=True)
    first = train.record_session(run, config, 0, "start")
    second = train.record_session(run, config, 3, "resume")
    assert [entry["action"] for entry in second] == ["start", "resume"] and second[0] == first[0]
    assert second[1]["after_epoch"] == 3 and second[1]["command"] == "python -m detector train --name x"
    version = train.code_version()
    # This test runs inside the project's git checkout (CI clones it); the commit is the checkout's HEAD.
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    assert version["commit"] == (head or None)
    assert second[1]["commit"] == version["commit"]
    assert presentation.training_lines({"sessions": second}) == []  # for whoever reproduces it, not the page


def test_a_legacy_file_of_the_whole_classifier_loads_into_the_whole_classifier(tmp_path):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    # ResNet50 nests its backbone, so a file of the whole classifier must be told from one of the backbone alone.
    source = architectures.build_classifier("resnet50", input_size=64, resolution=32)
    for variable in source.weights:
        variable.assign(variable.numpy() + 0.25)
    with h5py.File(tmp_path / "classifier.h5", "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, source)
    model = architectures.build_classifier("resnet50", input_size=64, resolution=32)
    assert train.load_initial_weights(model, tmp_path / "classifier.h5") == len(model.weights)
    for loaded, saved in zip(model.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


def test_patience_must_be_at_least_one_epoch(capsys):
    with pytest.raises(ValueError, match="patience"):
        train.TrainingConfig(name="x", patience=0)
    with pytest.raises(SystemExit):
        cli.main(["train", "--name", "x", "--patience", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_the_command_line_passes_the_augmentation_asked_for(monkeypatch, capsys):
    captured = []
    monkeypatch.setattr(train, "train", lambda config, resume, export_only: captured.append(config) or Path("x"))
    assert cli.main(["train", "--name", "x", "--augment", "h264=0"]) == 0
    assert cli.main(["train", "--name", "x"]) == 0
    assert captured[0].augmentation == train.AugmentationPolicy(h264=0.0)
    assert captured[1].augmentation is None
    with pytest.raises(SystemExit):
        cli.main(["train", "--name", "x", "--augment", "sharpen=1"])
    assert "NAME=SHARE" in capsys.readouterr().err


@requires_shared
def test_a_run_can_select_its_epochs_on_self_blends_of_the_validation_reals(tmp_path):
    config = _short_run(tmp_path, "blends", limit=48, fakes="sbi", select_on="self_blends")
    train.train(config)
    card = model_card.read_card("blends", tmp_path / "models")
    assert card.training["selected_on"] == train.SELECT_ON["self_blends"]
    # The card's numbers stay DFDC's, whatever chose the epoch.
    assert card.metrics["validation"]["count_fake"] > 0
    log = (tmp_path / "runs" / "blends" / "log.csv").read_text().splitlines()
    assert "val_loss" in log[0] and len(log) == 2
    with pytest.raises(ValueError, match="--select-on self-blends"):
        train.train(dataclasses.replace(config, select_on="dfdc", epochs=2), resume=True)
