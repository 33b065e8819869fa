import keras
import numpy as np
import pytest

from detector.models import weight_storage
from detector.training import architectures


@pytest.mark.parametrize(
    ("architecture", "resolution"),
    [
        ("compact", 64),
        ("compact_wide", 64),
        ("compact_deep", 64),
        ("compact_high_pass", 64),
        ("compact_local", 64),
        ("compact_lower", 64),
        ("compact_spectrum", 64),
        ("compact_two_view", 64),
        ("resnet50", 64),
        ("vgg16", 64),
        ("inception_resnet_v2", 75),
    ],
)
def test_builds_and_predicts_probabilities(architecture, resolution):
    model = architectures.build_classifier(architecture, input_size=96, resolution=resolution)
    images = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3)).astype(np.float32)
    output = np.asarray(model.predict_on_batch(images))
    assert output.shape == (2, 1)
    assert np.all(np.isfinite(output)) and np.all((output >= 0) & (output <= 1))


def test_preprocessing_is_inside_the_model():
    model = architectures.build_classifier("compact", input_size=224, resolution=128)
    names = [layer.name for layer in model.layers]
    assert "resize" in names and "scale" in names
    assert model.input_shape == (None, 224, 224, 3)


def test_the_wide_compact_model_has_more_parameters_than_the_default():
    default = architectures.build_classifier("compact", input_size=64, resolution=64)
    wide = architectures.build_classifier("compact_wide", input_size=64, resolution=64)
    assert wide.count_params() > 2 * default.count_params()


def test_the_deep_compact_model_has_more_parameters_than_the_wide_one():
    wide = architectures.build_classifier("compact_wide", input_size=64, resolution=64)
    deep = architectures.build_classifier("compact_deep", input_size=64, resolution=64)
    assert deep.count_params() > 1.8 * wide.count_params()
    assert deep.get_layer("pool").output.shape[-1] == 512


def test_the_local_model_judges_each_patch_without_seeing_the_rest_of_the_face():
    model = architectures.build_classifier("compact_local", input_size=128, resolution=128)
    probe = keras.Model(model.input, model.get_layer("local2_relu").output)
    images = np.random.default_rng(0).integers(0, 256, (1, 128, 128, 3)).astype(np.float32)
    changed = images.copy()
    changed[:, 120:, 120:] = 255 - changed[:, 120:, 120:]  # the bottom-right corner, 8 px
    before, after = probe.predict_on_batch(images), probe.predict_on_batch(changed)
    assert before.shape == (1, 32, 32, architectures.LOCAL_FILTERS)  # a map of 4 px steps
    difference = np.abs(after - before).max(axis=(0, 3))
    # Position i's patch starts near 4i and spans the receptive field: those that end before pixel 120 are blind.
    blind = (120 - architectures.LOCAL_RECEPTIVE_FIELD) // 4
    assert blind >= 21
    assert difference[:blind, :].max() == 0 and difference[:, :blind].max() == 0
    assert difference[30:, 30:].min() > 0
    head = model.get_layer("fake_probability")
    assert head.input.shape[-1] == architectures.LOCAL_FILTERS and model.get_layer("pool").input.shape[1:3] == (32, 32)


def test_the_lower_face_model_sees_the_mouth_and_not_the_eyes():
    model = architectures.build_classifier("compact_lower", input_size=224, resolution=128)
    assert architectures.lower_face_cropping(224) == ((94, 0), (47, 47))
    assert model.get_layer(architectures.LOWER_FACE_LAYER).output.shape[1:3] == (130, 130)
    images = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3)).astype(np.float32)
    eyes, mouth = images.copy(), images.copy()
    eyes[:, 60:90, 50:174] = 255 - eyes[:, 60:90, 50:174]  # eye height, about 0.3 of the side
    mouth[:, 170:200, 80:144] = 255 - mouth[:, 170:200, 80:144]  # mouth height, about 0.8
    before = model.predict_on_batch(images)
    assert model.predict_on_batch(eyes) == pytest.approx(before, abs=0)
    assert model.predict_on_batch(mouth) != pytest.approx(before, abs=1e-6)


def test_the_two_view_model_sees_the_whole_face_and_the_lower_face_apart():
    model = architectures.build_classifier("compact_two_view", input_size=224, resolution=128)
    assert model.get_layer(architectures.LOWER_FACE_LAYER).output.shape[1:3] == (130, 130)
    assert model.get_layer("resize").input.shape[1:3] == (224, 224)  # the whole view: the uncut crop
    lower_view = keras.Model(model.input, model.get_layer("lower_pool").output)
    whole_view = keras.Model(model.input, model.get_layer("pool").output)
    images = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3)).astype(np.float32)
    eyes = images.copy()
    eyes[:, 60:90, 50:174] = 255 - eyes[:, 60:90, 50:174]
    np.testing.assert_array_equal(lower_view.predict_on_batch(eyes), lower_view.predict_on_batch(images))
    assert not np.allclose(whole_view.predict_on_batch(eyes), whole_view.predict_on_batch(images))
    head_inputs = model.get_layer(architectures.TWO_VIEW_LAYER).input
    assert [tensor.shape[-1] for tensor in head_inputs] == [384, 384]


def _train_choices(option: str) -> tuple[str, ...]:
    from detector.cli import main as cli

    train_parser = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    return tuple(next(action for action in train_parser._actions if action.dest == option).choices)


def test_the_command_line_offers_every_architecture():
    assert _train_choices("architecture") == architectures.ARCHITECTURES


def test_the_command_line_offers_every_precision():
    from detector.training import PRECISIONS

    assert _train_choices("precision") == PRECISIONS


def test_unknown_architecture():
    with pytest.raises(ValueError, match="architecture"):
        architectures.build_classifier("alexnet")


def test_an_average_of_models_scores_the_mean_of_its_members_and_saves_as_one_file(tmp_path):
    import cv2
    import keras
    import numpy as np

    first = architectures.build_classifier("compact", input_size=64, resolution=32)
    second = architectures.build_classifier("compact", input_size=64, resolution=48)
    combined = architectures.average_of({"first": first, "second": second})
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3)).astype(np.float32)
    expected = (first.predict_on_batch(crops) + second.predict_on_batch(crops)) / 2
    np.testing.assert_allclose(combined.predict_on_batch(crops), expected, atol=1e-6)
    path = tmp_path / "pair.keras"
    combined.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict_on_batch(crops), expected, atol=1e-6)
    assert [member.name for member in weight_storage.average_members(loaded)] == ["first", "second"]
    assert weight_storage.average_members(first) == []
    with pytest.raises(ValueError, match="at least two"):
        architectures.average_of({"first": first})
    # A member trained on smaller crops gets the average's through an area resize (cv2.INTER_AREA's twin).
    small = architectures.build_classifier("compact", input_size=32, resolution=32)
    mixed = architectures.average_of({"first": first, "small": small})
    assert mixed.input_shape[1:] == (64, 64, 3)
    resized = np.stack([cv2.resize(crop, (32, 32), interpolation=cv2.INTER_AREA) for crop in crops])
    expected = (first.predict_on_batch(crops) + small.predict_on_batch(resized)) / 2
    np.testing.assert_allclose(mixed.predict_on_batch(crops), expected, atol=1e-5)
    assert [member.name for member in weight_storage.average_members(mixed)] == ["first", "small"]


def test_a_float32_copy_scores_like_the_bfloat16_model_it_copies():
    with architectures.dtype_policy("mixed_bfloat16"):
        mixed = architectures.build_classifier("compact", 64, 32)
    copy = architectures.float32_copy(mixed, "compact", 64, 32)
    assert architectures.model_precision(copy) == "float32"
    crops = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3)).astype(np.float32)
    expected = mixed.predict(crops, verbose=0)
    np.testing.assert_allclose(copy.predict(crops, verbose=0), expected, atol=0.02)
    for kept, original in zip(copy.weights, mixed.weights, strict=True):
        np.testing.assert_array_equal(kept.numpy(), original.numpy())


def test_the_high_pass_filters_are_fixed_see_edges_not_flat_colour_and_survive_saving(tmp_path):
    model = architectures.build_classifier("compact_high_pass", input_size=32, resolution=32)
    layer = model.get_layer(architectures.HIGH_PASS_LAYER)
    assert not layer.trainable
    np.testing.assert_array_equal(layer.get_weights()[0], architectures.high_pass_kernel())
    probe = keras.Model(model.input, model.get_layer("with_high_pass").output)
    flat = np.full((1, 32, 32, 3), 90, np.float32)
    edge = flat.copy()
    edge[:, :, 16:] = 180
    flat_residuals = probe.predict_on_batch(flat)[..., 3:]
    assert np.abs(flat_residuals[:, 4:-4, 4:-4]).max() < 1e-5  # away from the zero-padded border
    assert np.abs(probe.predict_on_batch(edge)[..., 3:][:, 4:-4, 14:18]).max() > 0.5
    model.save(tmp_path / "high_pass.keras")
    loaded = keras.saving.load_model(tmp_path / "high_pass.keras")
    np.testing.assert_array_equal(
        loaded.get_layer(architectures.HIGH_PASS_LAYER).get_weights()[0], architectures.high_pass_kernel()
    )


def test_the_dct_kernel_gives_each_blocks_orthonormal_dct_in_row_major_frequency_order():
    from scipy import fft

    kernel = architectures.dct_kernel()
    assert kernel.shape == (8, 8, 1, 64)
    basis = kernel.reshape(64, 64)  # (pixel, frequency)
    np.testing.assert_allclose(basis.T @ basis, np.eye(64), atol=1e-6)
    patch = np.random.default_rng(2).normal(size=(8, 8))
    coefficients = np.einsum("yxf,yx->f", kernel[:, :, 0], patch)
    np.testing.assert_allclose(coefficients, fft.dctn(patch, norm="ortho").ravel(), atol=1e-5)


def _spectrum_magnitudes(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.Model(model.input, model.get_layer("spectrum_magnitude").output).predict_on_batch(images)


def test_the_spectrum_branch_sees_each_blocks_frequency_magnitudes_and_its_filters_are_fixed(tmp_path):
    model = architectures.build_classifier("compact_spectrum", input_size=64, resolution=64)
    for name in (architectures.SPECTRUM_LUMA_LAYER, architectures.SPECTRUM_DCT_LAYER):
        assert not model.get_layer(name).trainable
    np.testing.assert_array_equal(
        model.get_layer(architectures.SPECTRUM_DCT_LAYER).get_weights()[0], architectures.dct_kernel()
    )
    flat = np.full((1, 64, 64, 3), 200, np.float32)
    magnitudes = _spectrum_magnitudes(model, flat)
    assert magnitudes.shape == (1, 8, 8, 64)  # one spectrum per 8 x 8 block
    assert magnitudes[..., 1:].max() < 1e-5 and magnitudes[..., 0].min() > 1  # a flat block is all DC
    # Dark columns every other pixel vary only across (u = 0, no vertical frequency), mostly at the highest
    # horizontal frequency (v = 7), and a coefficient's sign does not matter: the stripes shifted by one pixel
    # negate every coefficient but the DC term and keep their magnitudes.
    striped, shifted = flat.copy(), flat.copy()
    striped[:, :, ::2] = 0
    shifted[:, :, 1::2] = 0
    stripes = _spectrum_magnitudes(model, striped).reshape(1, 8, 8, 8, 8)  # (block row, block column, u, v)
    assert stripes[..., 1:, :].max() < 1e-4
    across = stripes[..., 0, 1:]
    assert np.all(across.argmax(axis=-1) == 6) and across[..., 6].min() > 1  # v = 7
    np.testing.assert_allclose(_spectrum_magnitudes(model, shifted).reshape(stripes.shape), stripes, atol=1e-4)
    model.save(tmp_path / "spectrum.keras")
    loaded = keras.saving.load_model(tmp_path / "spectrum.keras")
    np.testing.assert_allclose(_spectrum_magnitudes(loaded, striped).reshape(stripes.shape), stripes, atol=1e-6)


@pytest.mark.parametrize("architecture", ["compact_spectrum", "compact_two_view"])
def test_grad_cam_maps_the_whole_faces_rgb_features(architecture):
    from detector.outputs import explain

    model = architectures.build_classifier(architecture, input_size=64, resolution=64)
    assert [layer.name for layer in explain.feature_layer_path(model)] == ["block8_out"]


def test_every_architecture_has_words_on_the_page_and_in_the_reports():
    from detector.outputs import model_facts, model_summary

    for architecture in architectures.ARCHITECTURES:
        assert architecture in model_facts._ARCHITECTURE_WORDS
        assert architecture in model_summary._ARCHITECTURE_WORDS
