"""Blend-boundary supervision: a second, training-only output that draws where a crop was blended.

A crop's label says *whether* it was manipulated; nothing in it says *where*, so a network may learn any feature
that separates the training fakes from the reals, a source's look among them. Almost every face manipulation ends
by blending a generated region back into the frame, and the seam it leaves is a trace that does not depend on how
the region was made (Face X-ray, Li et al., CVPR 2020). The self-blends this project makes know their mask, so a
run may also ask the network for the seam: a map at an eighth of the working size, one value per cell, 1 on the
seam and 0 elsewhere (all 0 for a real crop).

The map comes from a small head on the backbone's feature map of that size (``with_boundary_head``: a 3x3
convolution with a ReLU, then a 1x1 convolution with a sigmoid). It is trained beside the crop's own cross-entropy
(``boundary_loss``; a target carries a weight per crop, 0 for fakes whose mask is unknown) and cut off before
shipping (``classifier_only``): what ships is the same classifier as without it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

# The output names of a model with the boundary head.
CLASSIFIER_OUTPUT = "fake_probability"
BOUNDARY_OUTPUT = "blend_boundary"
# The map's side is the working resolution divided by this.
MAP_STRIDE = 8
# Filters of the head's 3x3 layer.
HEAD_FILTERS = 64


def _scaled_cells(mask: np.ndarray, side: int) -> np.ndarray | None:
    """``mask`` ``(S, S)`` scaled to a peak of 1 and cut into ``(side, cell, side, cell)``; None for an empty mask.
    Refuses a mask that is not square or whose side is not a multiple of ``side``."""
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"mask must be a square (S, S) array, got shape {mask.shape}")
    if side < 1 or mask.shape[0] % side:
        raise ValueError(f"the mask's side {mask.shape[0]} is not a multiple of the map's side {side}")
    mask = mask.astype(np.float32)
    peak = float(mask.max())
    if peak <= 0.0:
        return None
    cell = mask.shape[0] // side
    return np.clip(mask / peak, 0.0, 1.0).reshape(side, cell, side, cell)


def boundary_map(mask: np.ndarray, side: int) -> np.ndarray:
    """The seam of a soft blend mask, ``(S, S) float32 in [0, 1]`` in, ``(side, side) float32 in [0, 1]`` out.

    The mask is scaled to a peak of 1 (a self-blend's mask includes its blend ratio, so a flat inside may be 0.5),
    then ``4 m (1 - m)`` marks where it changes: 0 where it is flat, 1 halfway up the seam. Each cell of the map
    takes the most of its pixels (a seam a few pixels wide would fade to nothing in an average). ``S`` must be a
    multiple of ``side``; an empty mask gives an empty map. The mask must be soft (a self-blend's is blurred, an FF++
    change mask too): a hard 0/1 mask is flat everywhere and draws no seam.
    """
    cells = _scaled_cells(mask, side)
    if cells is None:
        return np.zeros((side, side), np.float32)
    return (4.0 * cells * (1.0 - cells)).max(axis=(1, 3)).astype(np.float32)


def region_map(mask: np.ndarray, side: int) -> np.ndarray:
    """Where a mask says the crop was changed, ``(S, S) float32 in [0, 1]`` in, ``(side, side) float32 in [0, 1]``
    out: the mask scaled to a peak of 1 (as for ``boundary_map``), then each cell's mean, the share of the cell that
    was changed. An empty mask gives an empty map; ``S`` must be a multiple of ``side``."""
    cells = _scaled_cells(mask, side)
    if cells is None:
        return np.zeros((side, side), np.float32)
    return cells.mean(axis=(1, 3)).astype(np.float32)


# What the head is asked to draw from a crop's mask: its seam (Face X-ray's target) or the region it changed.
MAP_TARGETS = {"seam": boundary_map, "region": region_map}


def boundary_target(seam: np.ndarray | None, side: int) -> np.ndarray:
    """One crop's target ``(side, side, 2) float32``: the seam map (``boundary_map``; zeros for a real crop, given
    as an all-zero ``seam``) and its weight, 1 where the map is known; ``None`` (a fake whose mask is unknown) gives
    weight 0, so the crop adds no boundary loss."""
    target = np.zeros((side, side, 2), np.float32)
    if seam is not None:
        if seam.shape != (side, side):
            raise ValueError(f"seam must be ({side}, {side}), got {seam.shape}")
        target[..., 0] = seam
        target[..., 1] = 1.0
    return target


@keras.saving.register_keras_serializable(package="detector")
def boundary_loss(y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
    """Per crop, the mean binary cross-entropy over the map's cells, times the crop's weight: ``y_true`` is
    ``(B, s, s, 2)`` (``boundary_target``), ``y_pred`` the head's ``(B, s, s, 1)``; returns ``(B,)``."""
    target, weight = y_true[..., :1], y_true[..., 1]
    cells = keras.losses.binary_crossentropy(target, ops.cast(y_pred, target.dtype))
    return ops.mean(cells, axis=(1, 2)) * ops.mean(weight, axis=(1, 2))


def _feature_map(model: keras.Model, side: int) -> keras.KerasTensor:
    """The output of the last residual block of ``model`` whose map is ``side`` cells wide."""
    blocks = [
        layer
        for layer in model.layers
        if layer.name.startswith("block") and layer.name.endswith("_out") and layer.output.shape[1] == side
    ]
    if not blocks:
        raise ValueError(
            f"{model.name} has no residual block with a {side}x{side} map: the boundary head is for the compact "
            "architectures"
        )
    return blocks[-1].output


def with_boundary_head(classifier: keras.Model, resolution: int) -> keras.Model:
    """``classifier`` (from ``architectures.build_classifier``, compact family) with a second output, the seam map
    ``(B, resolution / 8, resolution / 8, 1)``: a dict model ``{CLASSIFIER_OUTPUT, BOUNDARY_OUTPUT}``, sharing the
    classifier's layers; the head's own layers are named after ``BOUNDARY_OUTPUT``."""
    if resolution % MAP_STRIDE:
        raise ValueError(f"the working resolution must be a multiple of {MAP_STRIDE}, got {resolution}")
    features = _feature_map(classifier, resolution // MAP_STRIDE)
    # A seam is a line across cells: a 3x3 layer lets each cell see its neighbours before the map is drawn (a 1x1
    # convolution alone did not learn to draw seams: docs/EXPERIMENTS.md, "Blend-boundary supervision").
    hidden = layers.Conv2D(HEAD_FILTERS, 3, padding="same", activation="relu", name=f"{BOUNDARY_OUTPUT}_hidden")(
        features
    )
    seam = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name=BOUNDARY_OUTPUT)(hidden)
    return keras.Model(
        classifier.input, {CLASSIFIER_OUTPUT: classifier.output, BOUNDARY_OUTPUT: seam}, name=classifier.name
    )


def has_boundary_head(model: keras.Model) -> bool:
    return any(layer.name == BOUNDARY_OUTPUT for layer in model.layers)


def classifier_only(model: keras.Model) -> keras.Model:
    """The classifier of a model with the boundary head, without it (the same layers and weights); a model without
    the head is returned as it is."""
    if not has_boundary_head(model):
        return model
    return keras.Model(model.input, model.get_layer(CLASSIFIER_OUTPUT).output, name=model.name)


def compile_with_boundary(model: keras.Model, learning_rate: float, weight: float) -> None:
    """Compiles a model from ``with_boundary_head``: the crop's cross-entropy plus ``weight`` times
    ``boundary_loss``; the ROC AUC and accuracy of the crop output (logged as ``auc`` and ``accuracy`` by
    ``ClassifierMetricNames``, as for a model without the head)."""
    if weight <= 0:
        raise ValueError(f"the boundary loss weight must be positive, got {weight}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={CLASSIFIER_OUTPUT: "binary_crossentropy", BOUNDARY_OUTPUT: boundary_loss},
        loss_weights={CLASSIFIER_OUTPUT: 1.0, BOUNDARY_OUTPUT: weight},
        metrics={CLASSIFIER_OUTPUT: [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]},
    )


class ClassifierMetricNames(keras.callbacks.Callback):
    """Copies the crop output's metrics to the names a one-output model logs them under (``fake_probability_auc``
    to ``auc``, ``val_fake_probability_auc`` to ``val_auc``, the same for accuracy), so that a run's log, its
    selection and its checkpoints read the same with or without the head. Must come before the callbacks that
    read them."""

    _METRICS = ("auc", "accuracy")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for prefix in ("", "val_"):
            for metric in self._METRICS:
                key = f"{prefix}{CLASSIFIER_OUTPUT}_{metric}"
                if key in logs:
                    logs[f"{prefix}{metric}"] = logs[key]


class WithEmptyBoundaries(keras.utils.PyDataset):
    """Selection batches for a model with the boundary head: ``batches``' ``(images, labels[, weights])`` with
    targets for both outputs, the boundary's of weight 0, so that the validation loss is the crop's alone."""

    def __init__(self, batches: keras.utils.PyDataset, side: int) -> None:
        super().__init__()
        self.batches = batches
        self.side = side

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple:
        images, labels, *weights = self.batches[index]
        targets = {
            CLASSIFIER_OUTPUT: labels,
            BOUNDARY_OUTPUT: np.zeros((len(labels), self.side, self.side, 2), np.float32),
        }
        if not weights:
            return images, targets
        return images, targets, {CLASSIFIER_OUTPUT: weights[0], BOUNDARY_OUTPUT: weights[0]}

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()
