import dataclasses
import json

import numpy as np
import pytest
from conftest import requires_shared, shipped_models, two_models_folder

from detector.analysis.scoring import load_scorer
from detector.cli import main as cli
from detector.evaluation import metrics
from detector.models import ensemble_table, model_card
from detector.shipping import calibrate, ensembles, ship
from detector.training import architectures


def test_a_selection_is_the_same_whatever_order_the_models_were_picked_in():
    assert ensemble_table.selection_key(["b", "a", "c"]) == ensemble_table.selection_key(["c", "b", "a"])
    assert ensembles.selections(["c", "a", "b"]) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("a", "b", "c"),
    ]
    with pytest.raises(ValueError, match="once"):
        ensemble_table.selection_key(["a", "a"])


def test_a_selections_thresholds_are_chosen_on_the_calibration_half_of_the_mean_and_measured_on_the_other():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 4000)
    # Two noisy, calibrated-looking scorers of the same crops.
    first = 1 / (1 + np.exp(-(2.5 * (labels - 0.5) + rng.normal(0, 1.2, 4000))))
    second = 1 / (1 + np.exp(-(2.5 * (labels - 0.5) + rng.normal(0, 1.2, 4000))))
    half = rng.random(4000) < 0.5
    entry = ensembles.fit_selection({"b": second, "a": first}, labels, half, "synthetic")
    mean = (first + second) / 2
    expected = calibrate.choose_thresholds(labels[half], mean[half])
    assert entry["thresholds"]["fake"] == expected.fake
    assert entry["thresholds"]["uncertain_low"] == expected.uncertain_low
    assert "mean of the models' calibrated probabilities" in entry["thresholds"]["chosen_on"]
    rates = metrics.decision_rates(labels[~half], mean[~half], expected.fake, expected.uncertain_low)
    assert entry["decisions"]["false_positive_rate"] == rates["false_positive_rate"]
    assert entry["validation"]["count"] == int((~half).sum())
    assert entry["validation"]["roc_auc"] == pytest.approx(
        metrics.classification_metrics(labels[~half], mean[~half])["roc_auc"]
    )
    # The mean of two models is less spread than either, so its band sits elsewhere than one model's.
    alone = calibrate.choose_thresholds(labels[half], first[half])
    assert (alone.fake, alone.uncertain_low) != (expected.fake, expected.uncertain_low)


@requires_shared
def test_the_table_gives_fitted_thresholds_to_a_selection_in_any_order_and_none_once_a_member_changed(
    tmp_path, tiny_models_folder, capsys
):
    folder = two_models_folder(tmp_path / "models", tiny_models_folder)
    assert cli.main(["ensembles", "--models-folder", str(folder), "--cache-folder", str(tmp_path / "cache")]) == 0
    assert "1 selections ->" in capsys.readouterr().out
    table = json.loads((folder / ensemble_table.TABLE_FILE).read_text())
    entry = table["selections"]["other+tiny"]
    cards = {name: model_card.read_card(name, folder) for name in ("other", "tiny")}
    assert entry["members"] == {name: ensemble_table.member_fingerprint(card) for name, card in cards.items()}
    assert entry["members"]["tiny"]["sha256"] == cards["tiny"].sha256

    forwards, backwards = load_scorer(["tiny", "other"], folder), load_scorer(["other", "tiny"], folder)
    assert forwards.thresholds_fitted and backwards.thresholds_fitted
    assert forwards.thresholds == backwards.thresholds
    assert forwards.thresholds.fake == entry["thresholds"]["fake"]
    assert load_scorer("tiny", folder).thresholds == model_card.read_card("tiny", folder).thresholds

    # A member recalibrated: its probabilities changed, so the entry is stale.
    recalibrated = dataclasses.replace(
        cards["other"], calibration=model_card.Calibration(2.0, "test", 10, "test", 0.7, 0.6, 0.1, 0.05)
    )
    assert ensemble_table.entry_for([cards["tiny"], recalibrated], folder) is None
    assert ensemble_table.entry_for([cards["tiny"], cards["other"]], folder) == entry
    # A member retrained (new weights, new sha256) makes the entry stale: the first model's thresholds, said so.
    retrained = architectures.build_classifier("compact", input_size=224, resolution=32, dropout=0.2)
    ship.save_with_card(retrained, "other", folder, "compact", "retrained", {"data": "none"}, {})
    scorer = load_scorer(["tiny", "other"], folder)
    assert not scorer.thresholds_fitted
    tiny_thresholds = model_card.read_card("tiny", folder).thresholds
    assert (scorer.thresholds.fake, scorer.thresholds.uncertain_low) == (
        tiny_thresholds.fake,
        tiny_thresholds.uncertain_low,
    )
    assert scorer.thresholds.chosen_on.startswith("not fitted for this selection of models")


@pytest.mark.skipif(len(shipped_models()) < 2, reason="fewer than two shipped models")
def test_every_selection_of_shipped_models_has_current_fitted_thresholds():
    cards = {name: model_card.read_card(name, model_card.MODELS_FOLDER) for name in shipped_models()}
    for combo in ensembles.selections(list(cards)):
        members = [cards[name] for name in combo]
        assert ensemble_table.entry_for(members, model_card.MODELS_FOLDER) is not None, (
            f"{'+'.join(combo)} has no current entry in models/{ensemble_table.TABLE_FILE}: "
            f"run `{ensemble_table.COMMAND}`"
        )
