import dataclasses
import io
import json
import shutil
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import balanced_validation_crops, requires_shared, shipped_models

from detector.analysis.scoring import FaceScorer
from detector.cli import main as cli
from detector.errors import ModelCardError
from detector.evaluation import benchmark
from detector.models import model_card
from detector.shipping import calibrate, ship
from detector.training import architectures, datasets, sources


@requires_shared
def test_calibrate_rewrites_the_card_of_a_shipped_model_and_leaves_its_weights(
    tiny_models_folder, tmp_path, monkeypatch, capsys
):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    before = model_card.read_card("tiny", tmp_path)
    validation = balanced_validation_crops()
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
def test_calibrate_on_mixed_sources_fits_on_dfdc_and_ffpp_and_drops_figures_of_the_old_calibration(
    tiny_models_folder, tmp_path, monkeypatch, capsys
):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    # A benchmark figure and video thresholds measured in the old calibration, which recalibrating makes stale.
    card = model_card.read_card("tiny", tmp_path)
    stale = dataclasses.replace(
        card,
        metrics={**card.metrics, "unseen_real_faces": {"roc_auc": None}},
        video_thresholds={"confident": model_card.Thresholds(fake=0.8, uncertain_low=0.2, chosen_on="clips")},
        extra={**card.extra, "video_thresholds_report_half": {}},
    )
    model_card.write_card(stale, tmp_path)
    validation = balanced_validation_crops()
    monkeypatch.setattr(datasets, "load_dfdc_faces", lambda: validation)
    ffpp = sources.load_ffpp_faces()
    kept, seen = [], {}
    for group, method in zip(ffpp.crops.groups, ffpp.methods, strict=True):
        seen[(group, method)] = seen.get((group, method), 0) + 1
        kept.append(seen[(group, method)] <= 6)
    small = ffpp.subset(np.array(kept))
    monkeypatch.setattr(sources, "load_ffpp_faces", lambda: small)
    argv = ["calibrate", "--name", "tiny", "--models-folder", str(tmp_path), "--cache-folder", str(tmp_path / "c")]
    assert cli.main([*argv, "--on", "mixed"]) == 0
    after = model_card.read_card("tiny", tmp_path)
    assert after.calibration.sources == ("dfdc", "ffpp")
    assert "FaceForensics++" in after.calibration.fitted_on and "weighted alike" in after.thresholds.chosen_on
    figures = after.metrics["calibration_sources"]
    validation_groups = set(sources.split_ffpp(small)[1].crops.groups)
    report_groups = {group for group in validation_groups if not calibrate.in_calibration_half(group)}
    assert figures["ffpp"]["count"] == sum(group in report_groups for group in small.crops.groups)
    assert "unseen_real_faces" not in after.metrics
    assert after.video_thresholds == {} and "video_thresholds_report_half" not in after.extra
    assert after.sha256 == card.sha256
    with pytest.raises(ValueError, match="calibration sources"):
        ship.recalibrate("tiny", tmp_path, tmp_path / "c", sources=("ffpp",))

    # Storing the weights in 8 bits refits the calibration on the same sources, and drops what it makes stale.
    model_card.write_card(dataclasses.replace(after, video_thresholds=stale.video_thresholds), tmp_path)
    assert cli.main(["quantize", *argv[1:]]) == 0
    stored = model_card.read_card("tiny", tmp_path)
    assert stored.calibration.sources == ("dfdc", "ffpp") and "calibration_sources" in stored.metrics
    assert stored.video_thresholds == {}


@requires_shared
def test_quantize_stores_8_bit_weights_and_measures_that_quality_did_not_move(
    tiny_models_folder, tmp_path, monkeypatch, capsys
):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    validation = balanced_validation_crops()
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
    ship.save_with_card(
        other,
        "other",
        tmp_path,
        "compact",
        "second untrained model",
        {"data": "none", "fakes": "both"},
        {},
        limitations=ship.training_limitations("both"),
    )
    validation = balanced_validation_crops()
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
        ship.FACES_ONLY,
    )
    assert card.training["fakes_by_model"] == {"tiny": "dfdc", "other": "both"}
    assert card.training["kinds_by_model"] == {"tiny": [], "other": [sources.SELF_BLEND]}
    assert "fakes" not in card.training  # its members saw different fakes
    pair, tiny, second = (FaceScorer(name, tmp_path) for name in ("pair", "tiny", "other"))
    crops = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    expected = (tiny.score_uncalibrated(crops) + second.score_uncalibrated(crops)) / 2
    # Each member scores mirrored inside the pair (the pair's card asks for it); the tiny cards do not.
    mirrored = (tiny.score_uncalibrated(crops[:, :, ::-1]) + second.score_uncalibrated(crops[:, :, ::-1])) / 2
    np.testing.assert_allclose(pair.score_uncalibrated(crops), (expected + mirrored) / 2, atol=1e-5)

    # Members may take different input sizes, not different crops.
    other_card = model_card.read_card("other", tmp_path)
    framed = dataclasses.replace(
        other_card, preprocessing=dataclasses.replace(other_card.preprocessing, face_margin=1.3)
    )
    model_card.write_card(framed, tmp_path)
    assert cli.main(argv) == 1
    assert "do not share crop margin" in capsys.readouterr().err


def _card_trained_on(name: str, fakes: str | None) -> model_card.ModelCard:
    card = model_card.ModelCard.from_dict(json.loads(model_card.card_path("compact_v1").read_text()))
    training = {"data": "x"} if fakes is None else {"data": "x", "fakes": fakes}
    limitations = ship.training_limitations(fakes or "dfdc")
    return dataclasses.replace(card, name=name, training=training, limitations=limitations)


def test_an_average_states_one_training_limitation_that_fits_all_its_members():
    same = ship.average_limitations([_card_trained_on("a", "both"), _card_trained_on("b", "both")])
    assert same == ship.training_limitations("both")
    mixed = ship.average_limitations([_card_trained_on("a", "dfdc"), _card_trained_on("b", "sbi")])
    assert mixed[0].startswith("Averages models trained on DFDC face swaps (a) and on self-blended real faces (b)")
    assert mixed[1:] == (ship.FACES_ONLY,)
    with_mixed = ship.average_limitations([_card_trained_on("a", "dfdc"), _card_trained_on("m", "mixed")])
    assert with_mixed[0].startswith(
        "Averages models trained on DFDC face swaps (a, m), on FaceForensics++ swaps and reenactments "
        "(Deepfakes, FaceSwap, Face2Face, NeuralTextures: m) and on self-blended real faces (m)"
    )
    with pytest.raises(ModelCardError, match="the cards of c do not say which fakes"):
        ship.average_limitations([_card_trained_on("a", "dfdc"), _card_trained_on("c", None)])


def test_which_of_the_benchmarks_kinds_a_model_trained_on_is_read_from_its_card():
    dfdc = _card_trained_on("a", "dfdc")
    assert ship.trained_kinds(dfdc) == frozenset()
    assert ship.trained_kinds(_card_trained_on("b", "both")) == {sources.SELF_BLEND}
    assert ship.trained_kinds(_card_trained_on("i", "sbi")) == {sources.SELF_BLEND}
    mixed = _card_trained_on("m", "mixed")
    assert ship.trained_kinds(mixed) == {sources.FFPP_FAKES, sources.SELF_BLEND}
    swaps = dataclasses.replace(
        mixed, name="s", training={**mixed.training, "self_blend": {"face_swaps": {"blends": ["alpha"]}}}
    )
    assert ship.trained_kinds(swaps) == {sources.FFPP_FAKES, sources.SELF_BLEND, sources.FACE_SWAP}
    by_model = ship.kinds_by_model([dfdc, swaps])
    assert by_model == {"a": [], "s": sorted([sources.FACE_SWAP, sources.FFPP_FAKES, sources.SELF_BLEND])}
    average = dataclasses.replace(
        dfdc, name="as", training={"fakes_by_model": {"a": "dfdc", "s": "mixed"}, "kinds_by_model": by_model}
    )
    assert ship.trained_kinds(average) == {sources.FFPP_FAKES, sources.SELF_BLEND, sources.FACE_SWAP}
    assert ship.kinds_by_model([average, mixed]) == {
        **by_model,
        "m": sorted([sources.FFPP_FAKES, sources.SELF_BLEND]),
    }
    assert ship.trained_kinds(dataclasses.replace(average, training={"fakes_by_model": {"a": "dfdc"}})) == set()
    # An average written before kinds_by_model, of members that did not mix: self-blends from its "both" member.
    older_both = dataclasses.replace(average, training={"fakes_by_model": {"a": "dfdc", "b": "both"}})
    assert ship.trained_kinds(older_both) == {sources.SELF_BLEND}
    older = dataclasses.replace(average, training={"fakes_by_model": {"a": "dfdc", "s": "mixed"}})
    with pytest.raises(ModelCardError, match="does not record which fakes its mixed members"):
        ship.trained_kinds(older)


def test_an_average_of_an_average_names_every_network_once_in_one_statement():
    inner_members = [_card_trained_on("a", "dfdc"), _card_trained_on("b", "both")]
    inner = dataclasses.replace(
        _card_trained_on("ab", None),
        training={"data": "x", "fakes_by_model": ship.fakes_by_model(inner_members)},
        limitations=ship.average_limitations(inner_members),
    )
    outer = ship.average_limitations([inner, _card_trained_on("c", "sbi")])
    assert outer[0].startswith(
        "Averages models trained on DFDC face swaps (a, b) and on self-blended real faces (b, c)"
    )
    assert outer[1:] == (ship.FACES_ONLY,)


def test_models_scored_together_name_the_limitations_only_some_of_them_state():
    cards = [_card_trained_on("a", "dfdc"), _card_trained_on("b", "both"), _card_trained_on("c", "both")]
    assert model_card.limitations_of(cards) == (
        ship.FAKES_SEEN["dfdc"].rstrip(".") + " (a).",
        ship.FACES_ONLY,
        ship.FAKES_SEEN["both"].rstrip(".") + " (b, c).",
    )
    assert model_card.limitations_of(cards[:1]) == cards[0].limitations


@pytest.mark.parametrize("name", shipped_models())
def test_each_shipped_card_states_the_limitations_its_training_implies(name):
    card = model_card.read_card(name)
    if card.architecture.startswith("average("):
        names = [member.split(":")[0] for member in card.training["members"]]
        if all(name in shipped_models() for name in names):
            assert card.limitations == ship.average_limitations([model_card.read_card(name) for name in names])
        # An average whose members do not ship alone (wide_trio) states what its card records of them.
        assert card.limitations[0] == ship.fakes_statement(card.training["fakes_by_model"])
        assert list(card.training["fakes_by_model"]) == names
    else:
        assert card.limitations == ship.training_limitations(card.training["fakes"])


def test_an_average_names_each_training_source_of_its_members_once():
    dfdc = "../shared/data/dfdc-faces (DFDC face crops, 224x224)"
    utk = "../shared/data/utkface (UTKFace real face photos, except the quarter held out for testing)"
    data = ship.combined_training_data([dfdc, f"{dfdc}; {utk}", f"{utk}; {dfdc}"])
    assert data == f"{dfdc}; {utk}"
    assert ship.combined_training_data(["none"]) == "none"


@pytest.mark.parametrize("name", shipped_models())
def test_each_shipped_card_records_how_it_does_beyond_dfdc(name):
    # scripts/ship_model.py records the benchmark; the page and the README show it for every model. Every card has
    # the unseen people and both face-swap sets; the default has every set of the benchmark and the clips.
    card = model_card.read_card(name)
    metrics = card.metrics
    fitted_on = card.calibration.sources if card.calibration else ()
    # Each set as the benchmark describes it for this model (whether it trained on the set's kind).
    described = {item.key: item.for_model(fitted_on, ship.trained_kinds(card)).description for item in benchmark.SETS}
    for key in ("unseen_real_faces", "unseen_face_swaps", "dfdc_face_swaps"):
        assert metrics[key]["data"] == described[key]
        assert "false_positive_rate" in metrics[f"{key}_decisions"]
    for key in ("unseen_face_swaps", "dfdc_face_swaps"):
        assert metrics[key]["count_fake"] == metrics[key]["count_real"] > 1000
    if name == model_card.default_model():
        for item in benchmark.SETS:
            assert metrics[item.key]["data"] == described[item.key]
        assert metrics["clips"]["unit"] == "videos" and "false_positive_rate" in metrics["clips_decisions"]


def _saved_groups(keras_file) -> list[str]:
    with zipfile.ZipFile(keras_file) as archive:
        return list(h5py.File(io.BytesIO(archive.read("model.weights.h5"))).keys())


def test_a_compiled_model_ships_its_weights_without_its_optimizer_state(tmp_path):
    model = architectures.build_classifier("compact", input_size=64, resolution=32)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(np.zeros((2, 64, 64, 3), np.float32), np.array([0.0, 1.0]), epochs=1, verbose=0)
    ship.save_with_card(model, "fitted", tmp_path, "compact", "one step of training", {"data": "none"}, {})
    assert "optimizer" not in _saved_groups(tmp_path / "fitted.keras")
    loaded = keras.saving.load_model(tmp_path / "fitted.keras", compile=False)
    batch = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


SHIPPED_KERAS_FILES = [name for name in shipped_models() if model_card.weights_path(name).suffix == ".keras"]


@pytest.mark.parametrize("name", SHIPPED_KERAS_FILES)
def test_no_shipped_file_carries_optimizer_state(name):
    assert "optimizer" not in _saved_groups(model_card.weights_path(name))
