"""Tests for detector/weight_storage.py: 8-bit weights that come back close to the float ones."""

from __future__ import annotations

import shutil

import keras
import numpy as np
import pytest

from detector.analysis.scoring import FaceScorer
from detector.models import model_card, weight_storage
from detector.training import architectures


def test_quantize_keeps_each_weight_within_half_a_step_of_its_channel():
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 1, (3, 3, 8, 16)).astype(np.float32) * np.linspace(0.01, 10, 16, dtype=np.float32)
    values, scales = weight_storage.quantize(weights)
    assert values.dtype == np.int8 and scales.shape == (1, 1, 1, 16)
    error = np.abs(weight_storage.dequantize(values, scales) - weights)
    assert np.all(error <= scales / 2 + 1e-7)
    # Per channel: the smallest channel keeps its own precision instead of rounding to zero.
    assert np.abs(weight_storage.dequantize(values, scales)[..., 0]).max() > 0


def test_a_depthwise_kernel_gets_one_scale_per_input_channel_and_zeros_stay_zero():
    kernel = np.zeros((3, 3, 4, 1), np.float32)
    kernel[..., 1, 0] = 0.5
    kernel[..., 2, 0] = -200.0
    values, scales = weight_storage.quantize(kernel)
    assert scales.shape == (1, 1, 4, 1)
    restored = weight_storage.dequantize(values, scales)
    np.testing.assert_array_equal(restored[..., 0, 0], 0.0)
    np.testing.assert_allclose(restored, kernel, rtol=1e-6)
    assert weight_storage.channel_axis((128, 64)) == 1


def test_a_model_stored_in_8_bits_scores_like_the_float_one(tmp_path):
    keras.utils.set_random_seed(1)
    model = architectures.build_classifier("compact", input_size=64, resolution=48)
    # Move the batch normalisation statistics away from their defaults, so that restoring them is tested too.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, np.float32))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, np.float32))
    path = tmp_path / "m.int8.npz"
    stored = weight_storage.save_int8(model, path)
    assert stored["tensors_8bit"] > 0 and stored["tensors"] == len(model.get_weights())
    restored = weight_storage.load(path)
    for before, after in zip(model.get_weights(), restored.get_weights(), strict=True):
        assert before.shape == after.shape
        if before.size < weight_storage.MIN_QUANTIZED_SIZE or before.ndim < 2:
            np.testing.assert_array_equal(before, after)
    crops = np.random.default_rng(2).integers(0, 256, (8, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(restored.predict_on_batch(crops), model.predict_on_batch(crops), atol=0.02)
    # The same weights give the same bytes, so the card's sha256 is reproducible.
    again = tmp_path / "again.int8.npz"
    weight_storage.save_int8(model, again)
    assert model_card.file_sha256(again) == model_card.file_sha256(path)


def test_an_8_bit_file_must_be_named_as_such(tmp_path):
    model = architectures.build_classifier("compact", input_size=64, resolution=32)
    with pytest.raises(ValueError, match=r"\.int8\.npz"):
        weight_storage.save_int8(model, tmp_path / "m.keras")


def test_models_folder_finds_and_loads_an_8_bit_model(tiny_models_folder, tmp_path):
    shutil.copy(tiny_models_folder / "tiny.json", tmp_path / "tiny.json")
    model = weight_storage.load(tiny_models_folder / "tiny.keras")
    weight_storage.save_int8(model, tmp_path / "tiny.int8.npz")
    (tmp_path / "notes.txt").write_text("not a model")
    assert model_card.weights_path("tiny", tmp_path) == tmp_path / "tiny.int8.npz"
    assert model_card.available_models(tmp_path) == ["tiny"]
    with pytest.raises(Exception, match="do not match"):
        FaceScorer("tiny", tmp_path)  # the card still holds the float file's sha256
    FaceScorer("tiny", tmp_path, verify=False).score(np.zeros((2, 224, 224, 3), np.uint8))
    assert weight_storage.model_name(tmp_path / "a.b.int8.npz") == "a.b"
    assert weight_storage.model_name(tmp_path / "a.h5") is None


@pytest.mark.parametrize(("architecture", "resolution"), [("inception_resnet_v2", 75), ("vgg16", 32), ("resnet50", 32)])
def test_the_seed_architectures_survive_8_bit_storage(tmp_path, architecture, resolution):
    # InceptionResNetV2 is the one that needs it (220 MB as float32); its custom scaling layers must rebuild too.
    keras.utils.set_random_seed(1)
    model = architectures.build_classifier(architecture, input_size=80, resolution=resolution)
    path = tmp_path / f"{architecture}.int8.npz"
    weight_storage.save_int8(model, path)
    float_bytes = sum(weights.nbytes for weights in model.get_weights())
    assert path.stat().st_size < 0.3 * float_bytes
    crops = np.random.default_rng(2).integers(0, 256, (4, 80, 80, 3)).astype(np.float32)
    restored = weight_storage.load(path)
    np.testing.assert_allclose(restored.predict_on_batch(crops), model.predict_on_batch(crops), atol=0.02)
