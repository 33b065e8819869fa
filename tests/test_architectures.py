import numpy as np
import pytest

from detector import architectures


@pytest.mark.parametrize(
    ("architecture", "resolution"),
    [("compact", 64), ("compact_wide", 64), ("resnet50", 64), ("vgg16", 64), ("inception_resnet_v2", 75)],
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


def test_the_command_line_offers_every_architecture():
    from detector import cli

    assert cli.ARCHITECTURE_NAMES == architectures.ARCHITECTURES


def test_the_command_line_offers_every_precision():
    from detector import cli, train

    assert cli.PRECISION_NAMES == train.PRECISIONS


def test_unknown_architecture():
    with pytest.raises(ValueError, match="architecture"):
        architectures.build_classifier("alexnet")


def test_an_average_of_models_scores_the_mean_of_its_members_and_saves_as_one_file(tmp_path):
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
    assert [member.name for member in architectures.average_members(loaded)] == ["first", "second"]
    assert architectures.average_members(first) == []
    with pytest.raises(ValueError, match="at least two"):
        architectures.average_of({"first": first})
    with pytest.raises(ValueError, match="different inputs"):
        architectures.average_of({"a": first, "b": architectures.build_classifier("compact", input_size=96)})
