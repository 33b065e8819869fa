"""detector/shipping/soup.py: one network whose weights average several networks', and `python -m detector soup`."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from conftest import balanced_validation_crops, requires_shared

from detector.cli import main as cli
from detector.errors import ModelCardError
from detector.models import model_card, weight_storage
from detector.shipping import ship, soup
from detector.training import architectures, datasets, sources


@pytest.mark.parametrize(
    ("weights", "expected"),
    [(None, [0.5, 0.5]), ([1.0, 3.0], [0.25, 0.75]), ([0.0, 2.0], [0.0, 1.0])],
)
def test_shares_are_equal_by_default_and_scaled_to_sum_to_one(weights, expected):
    assert soup.normalised_weights(2, weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("count", "weights", "message"),
    [
        (1, None, "at least two members"),
        (2, [1.0], "1 weights given for 2 members"),
        (2, [1.0, -0.5], "at least 0"),
        (2, [0.0, 0.0], "not all 0"),
        (2, [1.0, math.nan], "finite"),
    ],
)
def test_shares_that_cannot_make_a_soup_are_refused(count, weights, message):
    with pytest.raises(ValueError, match=message):
        soup.normalised_weights(count, weights)


def test_each_variable_is_the_weighted_mean_in_its_own_dtype():
    first = [np.array([[0.0, 2.0]], np.float32), np.array([4], np.int64)]
    second = [np.array([[4.0, 6.0]], np.float32), np.array([8], np.int64)]
    averaged = soup.average_weights([first, second], [0.75, 0.25])
    np.testing.assert_allclose(averaged[0], [[1.0, 3.0]])
    assert averaged[0].dtype == np.float32 and averaged[1].dtype == np.int64 and averaged[1][0] == 5


def test_members_with_other_variables_are_refused():
    with pytest.raises(ModelCardError, match="member 2"):
        soup.average_weights([[np.zeros((2, 2))], [np.zeros((3, 2))]], [0.5, 0.5])


def _save(folder, name, dropout, fakes, description):
    model = architectures.build_classifier("compact", input_size=224, resolution=32, dropout=dropout)
    training = {"data": "none", "fakes": fakes, "resolution": 32}
    limitations = ship.training_limitations(fakes)
    ship.save_with_card(model, name, folder, "compact", description, training, {}, limitations=limitations)
    return model


@requires_shared
def test_soup_saves_one_network_with_the_averaged_weights_and_its_own_calibration(tmp_path, monkeypatch, capsys):
    first = _save(tmp_path, "first", 0.0, "dfdc", "first untrained model")
    second = _save(tmp_path, "second", 0.1, "both", "second untrained model")
    validation = balanced_validation_crops()
    monkeypatch.setattr(datasets, "load_dfdc_faces", lambda: validation)
    argv = ["soup", "--name", "mix", "--member", "first", "--member", "second", "--weight", "3", "--weight", "1"]
    argv += ["--models-folder", str(tmp_path), "--cache-folder", str(tmp_path / "c")]
    assert cli.main(argv) == 0
    assert "mix: the weights of first 75%, second 25%; validation ROC AUC" in capsys.readouterr().out
    card = model_card.read_card("mix", tmp_path)
    assert card.architecture == "compact" and card.training["resolution"] == 32
    assert card.training["soup"] == [
        "first, 75% of the weights: first untrained model",
        "second, 25% of the weights: second untrained model",
    ]
    assert card.training["kinds_by_model"] == {"first": [], "second": [sources.SELF_BLEND]}
    assert ship.trained_kinds(card) == {sources.SELF_BLEND}
    assert card.calibration is not None and card.metrics["validation"]["count"] > 0
    assert "soup --name mix" in card.training["command"]
    mixed = weight_storage.load(model_card.weights_path("mix", tmp_path)).get_weights()
    for averaged, a, b in zip(mixed, first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(averaged, 0.75 * a + 0.25 * b, rtol=1e-5, atol=1e-6)


def test_soup_refuses_networks_that_differ_in_what_they_are(tmp_path, tiny_models_folder, capsys):
    shutil.copy(tiny_models_folder / "tiny.keras", tmp_path / "tiny.keras")
    shutil.copy(tiny_models_folder / "tiny.json", tmp_path / "tiny.json")
    _save(tmp_path, "other", 0.0, "dfdc", "another working resolution")
    argv = ["soup", "--name", "mix", "--member", "tiny", "--member", "other", "--models-folder", str(tmp_path)]
    assert cli.main(argv) == 1
    assert "cannot be averaged" in capsys.readouterr().err
    assert not model_card.card_path("mix", tmp_path).exists()
    assert cli.main([*argv, "--weight", "1"]) == 2
    assert "1 weights given for 2 members" in capsys.readouterr().err
