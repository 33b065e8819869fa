import json

from conftest import requires_shared

from detector import model_card, train
from detector.scoring import FaceScorer


@requires_shared
def test_a_short_run_writes_a_usable_model_and_card(tmp_path):
    config = train.TrainingConfig(
        name="smoke",
        resolution=32,
        epochs=1,
        batch_size=16,
        limit=64,
        run_folder=str(tmp_path / "runs"),
        models_folder=str(tmp_path / "models"),
        cache_folder=str(tmp_path / "cache"),
        command="python -m detector train --name smoke",
    )
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
    # Resuming a finished run trains nothing more and exports again.
    train.train(config, resume=True)
    assert json.loads(card_file.read_text())["training"]["epochs_run"] == 1
