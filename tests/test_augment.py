import numpy as np
import pytest

from detector import augment


@pytest.fixture
def face():
    y, x = np.mgrid[0:64, 0:64]
    # A gradient with a checkerboard on it: detail that blur and compression visibly change.
    checker = ((x // 4 + y // 4) % 2) * 40
    image = np.stack([x * 3 + checker, y * 3 + checker, (x + y) * 2], axis=2)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_flip_mirrors(face):
    np.testing.assert_array_equal(augment.horizontal_flip(face)[:, 0], face[:, -1])


@pytest.mark.parametrize(
    "transform",
    [augment.color_jitter, augment.gaussian_blur, augment.downscale_upscale, augment.jpeg_recompress],
)
def test_transforms_keep_shape_and_type_and_change_pixels(face, transform):
    output = transform(face, np.random.default_rng(3))
    assert output.shape == face.shape and output.dtype == np.uint8
    assert not np.array_equal(output, face)
    assert np.abs(output.astype(int) - face.astype(int)).mean() < 40


def test_policy_is_repeatable_with_a_seed(face):
    batch = np.stack([face] * 4)
    policy = augment.AugmentationPolicy(flip=0.5, color=1.0, blur=0.5, rescale=0.5, jpeg=0.5)
    first = policy.apply_batch(batch, np.random.default_rng(7))
    second = policy.apply_batch(batch, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)


def test_no_augmentation_is_identity(face):
    np.testing.assert_array_equal(augment.NO_AUGMENTATION.apply(face, np.random.default_rng(0)), face)


def test_policy_rejects_bad_probability():
    with pytest.raises(ValueError):
        augment.AugmentationPolicy(flip=1.5)
