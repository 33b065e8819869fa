"""The blend-boundary target, its loss and the training-only head."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from detector.training import architectures, blend_boundary


def _disc_mask(side: int = 64, radius: int = 18, ratio: float = 1.0) -> np.ndarray:
    """A soft disc in the middle of a ``(side, side)`` mask, its inside at ``ratio``."""
    mask = np.zeros((side, side), np.float32)
    cv2.circle(mask, (side // 2, side // 2), radius, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 2.0) * ratio


def test_the_seam_map_marks_where_the_mask_changes_and_not_where_it_is_flat():
    seam = blend_boundary.boundary_map(_disc_mask(), 8)
    assert seam.shape == (8, 8) and seam.dtype == np.float32
    # Cells of 8 px: the disc's edge (radius 18 around 32) crosses the ring of cells 1-2 and 5-6 from the middle;
    # the middle of the disc and the corners are flat.
    assert seam[3:5, 3:5].max() < 0.05
    assert seam[0, 0] < 0.05 and seam[7, 7] < 0.05
    assert seam[3, 1] > 0.9 and seam[1, 3] > 0.9 and seam[4, 6] > 0.9
    assert seam.min() >= 0.0 and seam.max() <= 1.0


def test_a_blend_ratio_below_one_draws_the_same_seam():
    np.testing.assert_allclose(
        blend_boundary.boundary_map(_disc_mask(ratio=0.5), 8), blend_boundary.boundary_map(_disc_mask(), 8), atol=1e-5
    )


def test_an_empty_mask_draws_no_seam_and_bad_shapes_are_refused():
    assert not blend_boundary.boundary_map(np.zeros((64, 64), np.float32), 8).any()
    with pytest.raises(ValueError, match="square"):
        blend_boundary.boundary_map(np.zeros((64, 32), np.float32), 8)
    with pytest.raises(ValueError, match="multiple"):
        blend_boundary.boundary_map(np.zeros((60, 60), np.float32), 8)


def test_the_region_map_is_the_share_of_each_cell_the_mask_changed_whatever_the_blend_ratio():
    region = blend_boundary.region_map(_disc_mask(ratio=0.5), 8)
    assert region.shape == (8, 8) and region.dtype == np.float32
    # The disc (radius 18 around 32) fills the middle cells, misses the corners and half fills the cells its edge
    # crosses diagonally.
    assert region[3:5, 3:5].min() > 0.95
    assert region[0, 0] < 0.01 and region[7, 7] < 0.01
    assert 0.3 < region[2, 2] < 0.7
    np.testing.assert_allclose(region.mean(), _disc_mask().mean(), atol=1e-3)
    assert not blend_boundary.region_map(np.zeros((64, 64), np.float32), 8).any()
    with pytest.raises(ValueError, match="multiple"):
        blend_boundary.region_map(np.zeros((60, 60), np.float32), 8)


def test_a_target_carries_its_map_and_whether_it_is_known():
    seam = blend_boundary.boundary_map(_disc_mask(), 8)
    known = blend_boundary.boundary_target(seam, 8)
    assert known.shape == (8, 8, 2)
    np.testing.assert_array_equal(known[..., 0], seam)
    assert (known[..., 1] == 1).all()
    unknown = blend_boundary.boundary_target(None, 8)
    assert not unknown.any()
    with pytest.raises(ValueError, match="must be"):
        blend_boundary.boundary_target(seam, 4)


def test_the_loss_is_lower_for_the_right_map_and_zero_where_the_map_is_unknown():
    seam = blend_boundary.boundary_map(_disc_mask(), 8)
    target = np.stack([blend_boundary.boundary_target(seam, 8), blend_boundary.boundary_target(None, 8)])
    right = np.stack([seam[..., np.newaxis], seam[..., np.newaxis]]).clip(0.01, 0.99)
    wrong = 1.0 - right
    right_loss = np.asarray(blend_boundary.boundary_loss(target, right))
    wrong_loss = np.asarray(blend_boundary.boundary_loss(target, wrong))
    assert right_loss.shape == (2,)
    assert right_loss[0] < wrong_loss[0]
    assert right_loss[1] == 0.0 and wrong_loss[1] == 0.0


def test_the_head_reads_the_backbones_map_at_an_eighth_and_is_cut_off_before_shipping():
    classifier = architectures.build_classifier("compact", input_size=64, resolution=64)
    model = blend_boundary.with_boundary_head(classifier, 64)
    assert blend_boundary.has_boundary_head(model)
    assert model.get_layer(blend_boundary.BOUNDARY_OUTPUT).output.shape == (None, 8, 8, 1)
    crops = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    outputs = model.predict(crops, verbose=0)
    shipped = blend_boundary.classifier_only(model)
    assert not blend_boundary.has_boundary_head(shipped)
    assert shipped.output_shape == (None, 1)
    # The same layers and weights as the classifier it was built on: what ships is that classifier.
    assert len(shipped.weights) == len(classifier.weights)
    np.testing.assert_allclose(shipped.predict(crops, verbose=0), outputs[blend_boundary.CLASSIFIER_OUTPUT], atol=1e-6)
    np.testing.assert_allclose(shipped.predict(crops, verbose=0), classifier.predict(crops, verbose=0), atol=1e-6)
    # A model without the head is shipped as it is.
    assert blend_boundary.classifier_only(classifier) is classifier


def test_the_head_is_for_networks_with_a_map_at_an_eighth_of_the_working_size():
    inputs = keras.Input((64, 64, 3))
    plain = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="compact"):
        blend_boundary.with_boundary_head(plain, 64)
    with pytest.raises(ValueError, match="multiple"):
        blend_boundary.with_boundary_head(architectures.build_classifier("compact", 36, 36), 36)


def test_one_step_of_training_lowers_the_boundary_loss_and_logs_the_crop_metrics_by_their_plain_names():
    keras.utils.set_random_seed(0)
    model = blend_boundary.with_boundary_head(architectures.build_classifier("compact", 32, 32), 32)
    blend_boundary.compile_with_boundary(model, 1e-2, weight=1.0)
    rng = np.random.default_rng(0)
    crops = rng.uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    labels = np.repeat([0.0, 1.0], 8).astype(np.float32)
    seam = blend_boundary.boundary_map(_disc_mask(32, 9), 4)
    targets = np.stack([blend_boundary.boundary_target(seam if label else np.zeros_like(seam), 4) for label in labels])
    data = (crops, {blend_boundary.CLASSIFIER_OUTPUT: labels, blend_boundary.BOUNDARY_OUTPUT: targets})
    history = model.fit(
        *data,
        validation_data=data,
        epochs=6,
        batch_size=16,
        verbose=0,
        callbacks=[blend_boundary.ClassifierMetricNames()],
    )
    losses = history.history["blend_boundary_loss"]
    assert losses[-1] < losses[0]
    for prefix in ("", "val_"):
        for metric in ("auc", "accuracy"):
            assert history.history[f"{prefix}{metric}"] == history.history[f"{prefix}fake_probability_{metric}"]
    with pytest.raises(ValueError, match="positive"):
        blend_boundary.compile_with_boundary(model, 1e-2, weight=0.0)
