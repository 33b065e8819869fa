import keras
import numpy as np
import pytest

from detector.training import architectures, initial_weights


def test_the_local_model_starts_from_a_wide_checkpoint_where_their_layers_are_the_same(tmp_path, caplog):
    wide = architectures.build_classifier("compact_wide", input_size=64, resolution=64)
    wide.save(tmp_path / "wide.keras")
    local = architectures.build_classifier("compact_local", input_size=64, resolution=64)
    local_head = local.get_layer("local1_conv").get_weights()[0].copy()
    initial_weights.load_initial_weights(local, tmp_path / "wide.keras")
    for name in ("stem_conv1", "block1_sep1", "block2_sep2", "block2_bn2"):
        for loaded, saved in zip(local.get_layer(name).get_weights(), wide.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(loaded, saved)
    np.testing.assert_array_equal(local.get_layer("local1_conv").get_weights()[0], local_head)
    assert "local1_conv" in caplog.text  # said to keep its random start


def test_the_lower_face_model_starts_from_a_wide_checkpoint_whole(tmp_path):
    wide = architectures.build_classifier("compact_wide", input_size=128, resolution=128)
    wide.save(tmp_path / "wide.keras")
    lower = architectures.build_classifier("compact_lower", input_size=224, resolution=128)
    loaded = initial_weights.load_initial_weights(lower, tmp_path / "wide.keras")
    assert loaded == len(wide.weights)
    for name in ("stem_conv1", "block8_sep2", "fake_probability"):
        for mine, saved in zip(lower.get_layer(name).get_weights(), wide.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, saved)


def test_the_two_view_model_starts_from_a_wide_checkpoint_in_both_views_computing_what_it_did(tmp_path):
    import cv2

    wide = architectures.build_classifier("compact_wide", input_size=128, resolution=128)
    for variable in wide.weights:
        variable.assign(variable.numpy() + 0.01)
    wide.save(tmp_path / "wide.keras")
    model = architectures.build_classifier("compact_two_view", input_size=224, resolution=128)
    assert initial_weights.load_initial_weights(model, tmp_path / "wide.keras") == len(model.weights)
    for name in ("stem_conv1", "block4_sep1", "block8_bn2"):
        for view in ("", architectures.LOWER_VIEW_PREFIX):
            mine = model.get_layer(view + name).get_weights()
            for loaded, saved in zip(mine, wide.get_layer(name).get_weights(), strict=True):
                np.testing.assert_array_equal(loaded, saved)
    kernel = model.get_layer("fake_probability").kernel.numpy()
    assert not kernel[:384].any()  # the lower view's features, first, at zero
    np.testing.assert_array_equal(kernel[384:], wide.get_layer("fake_probability").kernel.numpy())
    crops = np.random.default_rng(3).integers(0, 256, (3, 224, 224, 3)).astype(np.float32)
    resized = np.stack([cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA) for crop in crops])
    np.testing.assert_allclose(model.predict_on_batch(crops), wide.predict_on_batch(resized), atol=1e-4)
    # A two-view checkpoint loads whole into a two-view network, each view its own.
    model.get_layer("lower_stem_conv1").kernel.assign(model.get_layer("lower_stem_conv1").kernel.numpy() * 2)
    model.save(tmp_path / "two_view.keras")
    again = architectures.build_classifier("compact_two_view", input_size=224, resolution=128)
    assert initial_weights.load_initial_weights(again, tmp_path / "two_view.keras") == len(again.weights)
    for loaded, saved in zip(again.weights, model.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


def test_init_weights_load_where_they_fit_and_a_file_that_fits_nothing_is_refused(tmp_path, caplog):
    source = architectures.build_classifier("compact", input_size=224, resolution=48)
    for variable in source.weights:
        variable.assign(variable.numpy() + 0.25)  # unlike any fresh start, so a skipped array shows
    source.save(tmp_path / "start.keras")

    same = architectures.build_classifier("compact", input_size=224, resolution=48)
    assert initial_weights.load_initial_weights(same, tmp_path / "start.keras") == len(same.weights)
    for loaded, saved in zip(same.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())

    wider = architectures.build_classifier("compact_wide", input_size=224, resolution=48)
    start = [variable.numpy() for variable in wider.weights]
    with caplog.at_level("WARNING", logger="detector.training.initial_weights"):
        loaded = initial_weights.load_initial_weights(wider, tmp_path / "start.keras")
    assert 0 < loaded < len(wider.weights)
    assert f"{loaded} of {len(wider.weights)} weight arrays loaded" in caplog.text
    kept = [np.array_equal(variable.numpy(), fresh) for variable, fresh in zip(wider.weights, start, strict=True)]
    assert sum(kept) == len(wider.weights) - loaded  # the skipped ones got their random start back, not NaN

    with pytest.raises(ValueError, match=r"none of the model's .* weight arrays matched"):
        initial_weights.load_initial_weights(architectures.build_classifier("vgg16", 224, 32), tmp_path / "start.keras")


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
    with caplog.at_level("WARNING", logger="detector.training.initial_weights"):
        loaded = initial_weights.load_initial_weights(model, tmp_path / "resnet50_notop.h5")
    assert loaded == len(backbone.weights) == len(model.weights) - 2
    assert "fake_probability" in caplog.text  # the head is named as keeping its random start
    nested = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for loaded_variable, saved in zip(nested.weights, backbone.weights, strict=True):
        np.testing.assert_array_equal(loaded_variable.numpy(), saved.numpy())
    for variable, fresh in zip(model.get_layer("fake_probability").weights, head, strict=True):
        np.testing.assert_array_equal(variable.numpy(), fresh)


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
    assert initial_weights.load_initial_weights(model, tmp_path / "classifier.h5") == len(model.weights)
    for loaded, saved in zip(model.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


@pytest.mark.parametrize(
    ("plain_architecture", "variant_architecture", "widened_layer", "plain_inputs", "new_inputs", "fixed_layer"),
    [
        # The stem sees the nine high-pass residual channels beside RGB.
        ("compact", "compact_high_pass", "stem_conv1", 3, 9, architectures.HIGH_PASS_LAYER),
        # The head sees the spectrum branch's features beside the RGB branch's 384.
        ("compact_wide", "compact_spectrum", "fake_probability", 384, 64, architectures.SPECTRUM_DCT_LAYER),
    ],
)
def test_a_variant_starts_from_its_plain_network_computing_exactly_what_it_did(
    tmp_path, plain_architecture, variant_architecture, widened_layer, plain_inputs, new_inputs, fixed_layer
):
    plain = architectures.build_classifier(plain_architecture, input_size=64, resolution=64)
    for variable in plain.weights:
        variable.assign(variable.numpy() + 0.05)
    plain.save(tmp_path / "plain.keras")
    variant = architectures.build_classifier(variant_architecture, input_size=64, resolution=64)
    fixed = variant.get_layer(fixed_layer).get_weights()[0]
    assert initial_weights.load_initial_weights(variant, tmp_path / "plain.keras") == len(plain.weights)
    images = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(variant.predict_on_batch(images), plain.predict_on_batch(images), rtol=1e-5, atol=1e-6)
    kernel = variant.get_layer(widened_layer).kernel.numpy()
    assert kernel.shape[-2] == plain_inputs + new_inputs
    assert not kernel[..., plain_inputs:, :].any()  # the plain network's inputs copied, the new ones at zero
    np.testing.assert_array_equal(variant.get_layer(fixed_layer).get_weights()[0], fixed)
