"""Tests for detector/explain.py: Grad-CAM maps on tiny models with random weights, and on a model whose answer
is known to come from one quadrant of the image."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from conftest import make_result
from keras import layers

from detector.analysis.scoring import EnsembleScorer, FaceScorer
from detector.outputs import explain
from detector.training import architectures


def wrapped_in_resizing(model: keras.Model, input_size: int) -> keras.Model:
    """``model`` nested inside another that resizes its input first: Grad-CAM must find layers through it."""
    inputs = keras.Input((input_size, input_size, 3))
    x = layers.Resizing(*model.input_shape[1:3], interpolation="area")(inputs)
    return keras.Model(inputs, model(x), name=model.name)


@pytest.fixture(scope="module")
def tiny(tiny_models_folder) -> FaceScorer:
    return FaceScorer("tiny", tiny_models_folder)


@pytest.fixture(scope="module")
def resnet50() -> keras.Model:
    return architectures.build_classifier("resnet50", input_size=64, resolution=64)


def random_crops(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def assert_maps(maps: np.ndarray, count: int, size: int) -> None:
    assert maps.shape == (count, size, size)
    assert maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    # Each map is scaled by its own maximum: 1 where the score rose most, or all 0 when nothing raised it.
    for peak in maps.max(axis=(1, 2)):
        assert peak == pytest.approx(1.0) or peak == 0.0


def test_feature_layer_is_the_last_4d_output_searched_inside_nested_models(resnet50):
    compact = architectures.build_classifier("compact", input_size=64, resolution=64)
    assert [layer.name for layer in explain.feature_layer_path(compact)] == ["block6_out"]
    assert [layer.name for layer in explain.feature_layer_path(resnet50)] == ["resnet50", "conv5_block3_out"]
    wrapped = wrapped_in_resizing(resnet50, 96)
    assert [layer.name for layer in explain.feature_layer_path(wrapped)] == [
        "resnet50",
        "resnet50",
        "conv5_block3_out",
    ]


def test_a_model_without_a_4d_layer_cannot_be_explained():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(inputs))
    with pytest.raises(ValueError, match="no layer with a 4-D output"):
        explain.feature_layer_path(model)


@pytest.mark.parametrize("wrap", [False, True])
def test_the_gradient_model_shares_weights_and_gives_the_logit_of_the_output(resnet50, wrap):
    model = wrapped_in_resizing(resnet50, 80) if wrap else resnet50
    size = model.input_shape[1]
    crops = random_crops(3, size).astype(np.float32)
    features, logits = explain.gradient_model(model)(crops, training=False)
    assert tuple(features.shape) == (3, 2, 2, 2048)
    expected = np.asarray(model.predict_on_batch(crops)).reshape(-1)
    np.testing.assert_allclose(1 / (1 + np.exp(-np.asarray(logits).reshape(-1))), expected, atol=1e-5)
    assert explain.gradient_model(model) is explain.gradient_model(model)


def test_heatmaps_of_the_tiny_compact_model(tiny):
    maps = explain.heatmaps(tiny, random_crops(5, 224))
    assert_maps(maps, 5, 224)


def test_heatmaps_of_a_nested_resnet50(resnet50):
    maps = explain.model_heatmaps(resnet50, random_crops(3, 64))
    assert_maps(maps, 3, 64)


def test_no_crops_give_no_maps(tiny):
    assert explain.heatmaps(tiny, np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 224, 224)


@pytest.mark.parametrize(
    "crops", [np.zeros((2, 64, 64, 3), np.uint8), np.zeros((2, 224, 224, 3), np.float32), np.zeros((224, 224, 3))]
)
def test_crops_of_the_wrong_shape_or_type_are_refused(tiny, crops):
    with pytest.raises(ValueError, match="crops must be"):
        explain.heatmaps(tiny, crops)


QUADRANTS = {
    "top left": (slice(0, 16), slice(0, 16)),
    "top right": (slice(0, 16), slice(16, 32)),
    "bottom left": (slice(16, 32), slice(0, 16)),
    "bottom right": (slice(16, 32), slice(16, 32)),
}


def quadrant_model(quadrant: str) -> keras.Model:
    """A 32 px model whose score depends only on one quadrant: a mask zeroes the features everywhere else."""
    mask = np.zeros((1, 32, 32, 1), np.float32)
    mask[(0, *QUADRANTS[quadrant])] = 1.0
    positive = keras.initializers.RandomUniform(0.0, 0.1, seed=1)
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=positive)(x)
    x = layers.Lambda(lambda tensor: tensor * mask)(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", use_bias=False, kernel_initializer=positive)(
        x
    )
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1, activation="sigmoid", kernel_initializer="ones")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("quadrant", sorted(QUADRANTS))
def test_the_map_is_where_the_score_comes_from(quadrant):
    maps = explain.model_heatmaps(quadrant_model(quadrant), random_crops(4, 32, seed=3))
    assert_maps(maps, 4, 32)
    for heatmap in maps:
        inside = heatmap[QUADRANTS[quadrant]].sum()
        # The stride-2 feature map is 16 x 16, enlarged bilinearly: a pixel of blur leaks over the edge.
        assert inside / heatmap.sum() > 0.85
        rows, columns = np.nonzero(heatmap == heatmap.max())
        assert all(QUADRANTS[quadrant][0].start <= row < QUADRANTS[quadrant][0].stop for row in rows)
        assert all(QUADRANTS[quadrant][1].start <= column < QUADRANTS[quadrant][1].stop for column in columns)


@pytest.mark.parametrize("quadrant", sorted(QUADRANTS))
def test_a_model_that_cuts_a_part_of_the_crop_out_is_mapped_onto_that_part(quadrant):
    rows, columns = QUADRANTS[quadrant]
    inputs = keras.Input((32, 32, 3))
    x = layers.Cropping2D(((rows.start, 32 - rows.stop), (columns.start, 32 - columns.stop)))(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    positive = keras.initializers.RandomUniform(0.0, 0.1, seed=1)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", kernel_initializer=positive)(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid", kernel_initializer="ones")(x))
    maps = explain.model_heatmaps(model, random_crops(3, 32, seed=4))
    assert_maps(maps, 3, 32)
    outside = np.ones((32, 32), bool)
    outside[rows, columns] = False
    for heatmap in maps:
        assert heatmap[outside].max() == 0.0 and heatmap[rows, columns].max() == 1.0


def lower_face_model(input_size: int) -> keras.Model:
    """An untrained compact_lower whose score rises with every feature (a head of ones), so that its Grad-CAM map
    is positive wherever its features are."""
    model = architectures.build_classifier("compact_lower", input_size=input_size, resolution=32)
    head = model.get_layer("fake_probability")
    head.set_weights([np.ones_like(head.get_weights()[0]), np.zeros_like(head.get_weights()[1])])
    return model


def test_the_lower_face_model_is_mapped_below_the_line_it_cuts_at():
    model = lower_face_model(64)
    (top, _), (left, right) = architectures.lower_face_cropping(64)
    maps = explain.model_heatmaps(model, random_crops(2, 64, seed=5))
    assert_maps(maps, 2, 64)
    assert maps[:, :top].max() == 0.0 and maps[:, :, :left].max() == 0.0 and maps[:, :, 64 - right :].max() == 0.0
    assert maps[:, top:, left : 64 - right].max() == 1.0


def test_the_lower_face_model_behind_an_averages_resize_is_mapped_below_its_line():
    from detector.models import weight_storage

    lower = lower_face_model(64)
    whole = architectures.build_classifier("compact", input_size=96, resolution=32)
    average = architectures.average_of({"lower": lower, "whole": whole})
    member = next(model for model in weight_storage.average_members(average) if model.name == "lower")
    (top, _), _ = architectures.lower_face_cropping(64)
    maps = explain.model_heatmaps(member, random_crops(2, 96, seed=6))
    assert_maps(maps, 2, 96)
    line = round(top / 64 * 96)
    assert maps[:, :line].max() == 0.0 and maps[:, line:].max() == 1.0


def test_the_two_view_model_is_mapped_over_the_whole_face_its_map_sees():
    model = architectures.build_classifier("compact_two_view", input_size=64, resolution=32)
    head = model.get_layer("fake_probability")
    head.set_weights([np.ones_like(head.get_weights()[0]), np.zeros_like(head.get_weights()[1])])
    (top, _), _ = architectures.lower_face_cropping(64)
    maps = explain.model_heatmaps(model, random_crops(2, 64, seed=7))
    assert_maps(maps, 2, 64)
    # Its lower view's cut is not on the way to the whole view's map, so the map is not squeezed into the cut.
    assert explain._seen_region(model, (64, 64)) == (0, 64, 0, 64)
    assert maps[:, :top].max() > 0.0


def test_an_ensemble_averages_its_members_maps(resnet50):
    crops = random_crops(2, 64)
    members = [SimpleNamespace(model=resnet50, batch_size=16), SimpleNamespace(model=quadrant_model_64(), batch_size=4)]
    maps = explain.ensemble_heatmaps(SimpleNamespace(scorers=members), crops)
    expected = (explain.model_heatmaps(resnet50, crops) + explain.model_heatmaps(members[1].model, crops)) / 2
    np.testing.assert_allclose(maps, expected, atol=1e-6)
    assert maps.dtype == np.float32


def quadrant_model_64() -> keras.Model:
    """The top-left quadrant model behind a 64 px input."""
    return wrapped_in_resizing(quadrant_model("top left"), 64)


@pytest.mark.parametrize(
    "heat, alpha, expected",
    [
        (0.0, 1.0, (0, 0, 128)),  # JET's coldest colour, dark blue, in RGB order
        (1.0, 1.0, (128, 0, 0)),  # its warmest, dark red
        (1.0, 0.0, (200, 100, 50)),  # fully transparent: the crop
        (1.0, 0.5, (164, 50, 25)),
    ],
)
def test_overlay_colours_in_rgb(heat, alpha, expected):
    crop = np.empty((16, 16, 3), np.uint8)
    crop[...] = (200, 100, 50)
    shown = explain.overlay(crop, np.full((16, 16), heat, np.float32), alpha)
    assert shown.shape == (16, 16, 3) and shown.dtype == np.uint8
    assert np.all(shown == np.array(expected, np.uint8))


@pytest.mark.parametrize(
    "crop, heatmap, alpha",
    [
        (np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8)), 0.5),
        (np.zeros((16, 16), np.uint8), np.zeros((16, 16)), 0.5),
        (np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16)), 1.5),
    ],
)
def test_overlay_refuses_mismatched_input(crop, heatmap, alpha):
    with pytest.raises(ValueError):
        explain.overlay(crop, heatmap, alpha)


def test_explain_top_faces_takes_each_persons_most_suspicious_crops(tiny):
    result = make_result({0: [0.1, 0.9, 0.5, 0.7, 0.2], 1: [0.3, 0.4, None, None, None]})
    overlays = explain.explain_top_faces(result, EnsembleScorer([tiny]), per_person=3)
    assert list(overlays) == [(15, 0), (45, 0), (30, 0), (15, 1), (0, 1)]
    for key, shown in overlays.items():
        assert shown.shape == (224, 224, 3) and shown.dtype == np.uint8
        assert not np.array_equal(shown, result.crops[key])
    assert explain.top_faces(result, per_person=1) == [(15, 0), (15, 1)]


def test_explain_top_faces_of_a_result_without_faces_is_empty(tiny):
    result = make_result({0: [None, None]})
    assert explain.explain_top_faces(result, EnsembleScorer([tiny])) == {}
    with pytest.raises(ValueError):
        explain.top_faces(result, per_person=0)


def test_a_model_averaging_others_is_explained_by_the_mean_of_their_maps():
    keras.utils.set_random_seed(3)
    first = architectures.build_classifier("compact", input_size=64, resolution=32)
    second = architectures.build_classifier("compact", input_size=64, resolution=48)
    combined = architectures.average_of({"first": first, "second": second})
    crops = np.random.default_rng(5).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    expected = (explain.model_heatmaps(first, crops) + explain.model_heatmaps(second, crops)) / 2
    np.testing.assert_allclose(explain.model_heatmaps(combined, crops), expected, atol=1e-5)
