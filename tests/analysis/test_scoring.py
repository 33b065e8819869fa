import dataclasses
import shutil

import numpy as np
import pytest
from scipy import special

from detector.analysis.scoring import EnsembleScorer, FaceScorer, load_scorer
from detector.errors import ModelCardError
from detector.models import model_card


def _save_decisive_model(folder, name: str, gain: float, bias: float, **card_changes) -> FaceScorer:
    """An untrained compact model with its last kernel times ``gain`` and its last bias ``bias``.

    An untrained network's outputs sit within about 1e-4 of 0.5, too close for a test to see what a calibration or a
    mirror image changes. Across random starts a gain of 100 spread six random crops' logits over 0.55..2.2 with a
    bias of 1.5, and a gain of 1000 moved them by 0.01..0.48 between a crop and its mirror image; the seed fixes one.
    """
    import keras

    from detector.shipping import ship
    from detector.training import architectures

    keras.utils.set_random_seed(0)
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    kernel, _ = model.get_layer("fake_probability").get_weights()
    model.get_layer("fake_probability").set_weights([kernel * gain, np.full((1,), bias, np.float32)])
    ship.save_with_card(model, name, folder, "compact", "untrained, spread logits", {"data": "none"}, {})
    card = model_card.read_card(name, folder)
    model_card.write_card(dataclasses.replace(card, **card_changes), folder)
    return FaceScorer(name, folder, batch_size=4)


@pytest.fixture(scope="module")
def tiny_scorer(tiny_models_folder):
    return FaceScorer("tiny", tiny_models_folder, batch_size=4)


@pytest.mark.parametrize("count", [0, 1, 4, 5, 9])
def test_scores_any_count_in_fixed_batches(tiny_scorer, count):
    crops = np.random.default_rng(count).integers(0, 256, (count, 224, 224, 3), dtype=np.uint8)
    probabilities = tiny_scorer.score(crops)
    assert probabilities.shape == (count,)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_batch_padding_does_not_change_scores(tiny_scorer):
    crops = np.random.default_rng(0).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    together = tiny_scorer.score(crops)
    alone = np.concatenate([tiny_scorer.score(crops[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_rejects_wrong_crop_size(tiny_scorer):
    with pytest.raises(ValueError, match="224"):
        tiny_scorer.score(np.zeros((2, 128, 128, 3), np.uint8))


def test_tampered_weights_are_refused(tiny_models_folder, tmp_path):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    with open(tmp_path / "tiny.keras", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelCardError, match="do not match"):
        FaceScorer("tiny", tmp_path)


def test_ensemble_is_the_mean_of_its_members(tiny_scorer):
    ensemble = EnsembleScorer([tiny_scorer, tiny_scorer])
    crops = np.random.default_rng(1).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    each = ensemble.score_each(crops)
    assert each.shape == (3, 2)
    np.testing.assert_allclose(ensemble.score(crops), each.mean(axis=1))
    assert ensemble.names == ("tiny", "tiny")


def test_load_scorer_uses_the_default_model(tiny_models_folder):
    assert load_scorer(None, tiny_models_folder).names == (model_card.default_model(tiny_models_folder),)


def test_a_card_temperature_of_two_halves_the_logits_of_the_raw_model_output(tmp_path):
    temperature_two = model_card.Calibration(
        temperature=2.0,
        fitted_on="test",
        fitted_count=0,
        measured_on="test",
        log_loss_before=0.7,
        log_loss_after=0.6,
        ece_before=0.2,
        ece_after=0.1,
    )
    scorer = _save_decisive_model(tmp_path, "decisive", gain=100, bias=1.5, calibration=temperature_two)
    crops = np.random.default_rng(2).integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)
    raw = np.asarray(scorer.model.predict_on_batch(crops.astype(np.float32)), np.float64).ravel()
    np.testing.assert_allclose(scorer.score_uncalibrated(crops), raw, atol=1e-6)
    np.testing.assert_allclose(special.logit(scorer.score(crops)), special.logit(raw) / 2, rtol=1e-3)
    assert np.min(np.abs(special.logit(raw))) > 0.3  # so halving every logit has to show
    assert np.min(np.abs(scorer.score(crops) - raw)) > 0.03


def test_a_card_without_calibration_scores_with_the_raw_output(tiny_scorer):
    assert tiny_scorer.card.calibration is None
    crops = np.random.default_rng(3).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(tiny_scorer.score(crops), tiny_scorer.score_uncalibrated(crops))


def test_test_time_flip_averages_each_crop_with_its_mirror_image(tiny_models_folder, tmp_path):
    preprocessing = model_card.read_card("tiny", tiny_models_folder).preprocessing
    flipping = dataclasses.replace(preprocessing, test_time_flip=True)
    scorer = _save_decisive_model(tmp_path, "decisive", gain=1000, bias=0.0, preprocessing=flipping)
    crops = np.random.default_rng(4).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    plain = np.asarray(scorer.model.predict_on_batch(crops.astype(np.float32)), np.float64).ravel()
    mirrored = np.asarray(scorer.model.predict_on_batch(crops[:, :, ::-1].astype(np.float32)), np.float64).ravel()
    assert np.max(np.abs(plain - mirrored)) > 1e-3  # the mirror image does score differently
    np.testing.assert_allclose(scorer.score_uncalibrated(crops), (plain + mirrored) / 2, atol=1e-6)
    # A symmetric crop scores the same either way.
    symmetric = np.concatenate([crops[:, :, :112], crops[:, :, :112][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(
        scorer.score_uncalibrated(symmetric),
        np.asarray(scorer.model.predict_on_batch(symmetric.astype(np.float32)), np.float64).ravel(),
        atol=1e-5,
    )
