import json

import pytest

from detector.errors import ModelCardError, ModelNotFoundError
from detector.models import model_card


def test_tiny_card_round_trips(tiny_models_folder):
    card = model_card.read_card("tiny", tiny_models_folder)
    assert card.preprocessing.input_size == 224
    assert card.sha256 == model_card.file_sha256(model_card.weights_path("tiny", tiny_models_folder))
    assert model_card.ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    assert model_card.available_models(tiny_models_folder) == ["tiny"]
    assert model_card.default_model(tiny_models_folder) == "tiny"


def test_missing_model_names_the_available_ones(tiny_models_folder):
    with pytest.raises(ModelNotFoundError, match="tiny"):
        model_card.read_card("absent", tiny_models_folder)


def test_unfinished_runs_carried_in_models_are_never_offered(tiny_models_folder, tmp_path):
    """``models/unfinished/NAME/`` holds a run's checkpoints between machines (docs/EXPERIMENTS.md); only files at
    the top of ``models/`` with a card are models the page and the CLI may use."""
    for path in tiny_models_folder.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    run = tmp_path / "unfinished" / "some_run"
    run.mkdir(parents=True)
    (run / "best.keras").write_bytes((tmp_path / "tiny.keras").read_bytes())
    (run / "best.json").write_text((tmp_path / "tiny.json").read_text())
    assert model_card.available_models(tmp_path) == ["tiny"]


def test_empty_folder_has_no_default(tmp_path):
    assert model_card.available_models(tmp_path) == []
    with pytest.raises(ModelNotFoundError, match="no trained model"):
        model_card.default_model(tmp_path)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda data: data.pop("sha256"),
        lambda data: data["preprocessing"].update(input_size=4),
        lambda data: data["preprocessing"].update(color_order="BGR"),
        lambda data: data.update(thresholds={"fake": 0.3, "uncertain_low": 0.6}),
    ],
)
def test_bad_cards_are_refused(tiny_models_folder, mutate):
    data = model_card.read_card("tiny", tiny_models_folder).to_dict()
    mutate(data)
    with pytest.raises(ModelCardError):
        model_card.ModelCard.from_dict(data)


def test_models_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DETECTOR_MODELS", str(tmp_path))
    assert model_card.models_folder() == tmp_path


def test_an_old_card_without_calibration_still_loads(tiny_models_folder):
    data = model_card.read_card("tiny", tiny_models_folder).to_dict()
    data.pop("calibration")
    card = model_card.ModelCard.from_dict(data)
    assert card.calibration is None
    assert card.thresholds == model_card.Thresholds()


def test_a_calibration_round_trips_and_a_bad_one_is_refused(tiny_models_folder):
    data = model_card.read_card("tiny", tiny_models_folder).to_dict()
    data["calibration"] = {
        "method": "temperature",
        "temperature": 1.7,
        "fitted_on": "DFDC validation, calibration half",
        "fitted_count": 2200,
        "measured_on": "DFDC validation, report half",
        "log_loss_before": 0.61,
        "log_loss_after": 0.55,
        "ece_before": 0.12,
        "ece_after": 0.02,
    }
    card = model_card.ModelCard.from_dict(json.loads(json.dumps(data)))  # a card written before Platt scaling
    assert card.calibration.temperature == 1.7 and card.calibration.fitted_count == 2200
    assert card.calibration.bias == 0.0
    # A card from before calibrations on several sources was fitted on DFDC alone.
    assert card.to_dict()["calibration"] == {**data["calibration"], "bias": 0.0, "sources": ["dfdc"]}
    platt = {**data, "calibration": {**data["calibration"], "method": "platt", "bias": -0.4}}
    assert model_card.ModelCard.from_dict(platt).calibration.bias == -0.4
    mixed = {**data, "calibration": {**data["calibration"], "sources": ["dfdc", "ffpp"]}}
    assert model_card.ModelCard.from_dict(json.loads(json.dumps(mixed))).calibration.sources == ("dfdc", "ffpp")
    bad_ones = (
        {"sources": []},
        {"temperature": 0.0},
        {"temperature": float("nan")},
        {"method": "isotonic"},
        {"bias": 0.3},  # temperature scaling has no bias
        {"method": "platt", "bias": float("inf")},
    )
    for bad in bad_ones:
        with pytest.raises(ModelCardError):
            model_card.ModelCard.from_dict({**data, "calibration": {**data["calibration"], **bad}})
    with pytest.raises(ModelCardError, match="missing or has a bad field"):
        model_card.ModelCard.from_dict({**data, "calibration": {"temperature": 2.0}})
