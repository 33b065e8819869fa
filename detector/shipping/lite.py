"""A shipped model as a TensorFlow Lite file, so that the analysis scores faces without loading TensorFlow.

``python -m detector lite --name NAME`` writes ``models/NAME.tflite`` beside the Keras file and records it in the
card (``extra["tflite"]``: file, sha256, and the largest difference from the Keras model's outputs, measured on
real face crops). The Keras file stays: explanations (Grad-CAM) need its gradients, and training starts from it.

TensorFlow Lite has no area resize, which the models' preprocessing uses to shrink a 224 px crop to the 128 px they
work at. Area resizing is linear and separable: each output row is a weighted average of input rows, the same
weights for every column and channel. So the exported model replaces it with two matrix products by the weights
TensorFlow's own resize uses (``area_matrix``), which gives the same numbers up to float rounding.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np

from detector.errors import ModelCardError
from detector.models import model_card, tflite, weight_storage

logger = logging.getLogger(__name__)

# Largest difference in a raw fake probability allowed between the Keras model and its TensorFlow Lite copy.
MAX_DIFFERENCE = 1e-4


def area_matrix(source: int, target: int) -> np.ndarray:
    """``(target, source) float32``: row ``i`` holds the weights TensorFlow's area resize gives each source pixel
    for target pixel ``i`` along one axis (found by resizing the one-hot rows, so they are TensorFlow's own)."""
    import tensorflow as tf

    basis = np.eye(source, dtype=np.float32).reshape(source, source, 1, 1)
    resized = tf.image.resize(basis, (target, 1), method="area").numpy()
    return resized[:, :, 0, 0].T.astype(np.float32)


def periodic_block(matrix: np.ndarray) -> np.ndarray | None:
    """The repeating block of an area-resize matrix, or None when it has none.

    Area resizing ``source`` to ``target`` pixels maps each run of ``source / g`` input pixels to ``target / g``
    output pixels (``g`` their greatest common divisor), with the same weights every run: 224 to 128 is 7 to 4, 32
    times. Applying the small block to each run costs a fraction of the whole matrix product."""
    target, source = matrix.shape
    runs = int(np.gcd(source, target))
    rows, columns = target // runs, source // runs
    block = matrix[:rows, :columns]
    expected = np.kron(np.eye(runs, dtype=np.float32), block)
    return block if np.array_equal(expected, matrix) else None


@keras.saving.register_keras_serializable(package="detector")
class MatrixResize(keras.layers.Layer):
    """``(N, H, W, C) -> (N, h, w, C)``: a separable linear resize, ``rows @ image @ columns.T`` per channel,
    computed run by run where the matrices repeat a small block (``periodic_block``)."""

    def __init__(self, rows: np.ndarray, columns: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = np.asarray(rows, np.float32)
        self.columns = np.asarray(columns, np.float32)

    def _resize_axis(self, x: Any, matrix: np.ndarray, axis: int) -> Any:
        # ``axis`` 1 resizes rows, 2 columns, of an (N, H, W, C) tensor.
        target, source = matrix.shape
        block = periodic_block(matrix)
        shape = list(x.shape)
        if block is None:
            spec = "oh,nhwc->nowc" if axis == 1 else "ow,nhwc->nhoc"
            return keras.ops.einsum(spec, matrix, x)
        runs = source // block.shape[1]
        if axis == 1:
            runs_shape = (-1, runs, block.shape[1], shape[2], shape[3])
            resized = keras.ops.einsum("ngiwc,oi->ngowc", keras.ops.reshape(x, runs_shape), block)
            return keras.ops.reshape(resized, (-1, target, shape[2], shape[3]))
        runs_shape = (-1, shape[1], runs, block.shape[1], shape[3])
        resized = keras.ops.einsum("nhgic,oi->nhgoc", keras.ops.reshape(x, runs_shape), block)
        return keras.ops.reshape(resized, (-1, shape[1], target, shape[3]))

    def call(self, inputs: Any) -> Any:
        return self._resize_axis(self._resize_axis(inputs, self.rows, 1), self.columns, 2)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.rows.shape[0], self.columns.shape[0], input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rows": self.rows.tolist(), "columns": self.columns.tolist()}


def _lite_ready(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose area resizes are matrix products; the same weights."""

    def replace(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.Resizing):
            if layer.interpolation != "area":
                raise ModelCardError(f"cannot export a {layer.interpolation} resize to TensorFlow Lite")
            source = int(layer.input.shape[1])
            rows = area_matrix(source, layer.height)
            columns = rows if layer.width == layer.height else area_matrix(int(layer.input.shape[2]), layer.width)
            return MatrixResize(rows, columns, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=replace, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def convert(model: keras.Model) -> bytes:
    """The model as a float32 TensorFlow Lite flat buffer (built-in operators only)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_lite_ready(model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def largest_difference(model: keras.Model, path: Path, images: np.ndarray) -> float:
    """The largest difference in raw fake probability between ``model`` and the TensorFlow Lite file at ``path``
    on ``images`` (``(N, S, S, 3) uint8 RGB``)."""
    lite = tflite.LiteClassifier(path)
    expected = np.asarray(model.predict_on_batch(images.astype(np.float32))).reshape(-1)
    return float(np.max(np.abs(lite.predict(images) - expected)))


def export(name: str, images: np.ndarray, folder: Path | None = None, checked_on: str = "") -> Path:
    """Writes ``NAME.tflite`` beside the model, checks it against the Keras model on ``images`` and records it in
    the card; returns the card's path. Refuses (``ModelCardError``) a copy that differs by more than
    ``MAX_DIFFERENCE``."""
    folder = folder or model_card.models_folder()
    card = model_card.read_card(name, folder)
    model = weight_storage.load(model_card.verified_weights(card, folder))
    out = folder / f"{name}{tflite.LITE_SUFFIX}"
    out.write_bytes(convert(model))
    difference = largest_difference(model, out, images)
    if difference > MAX_DIFFERENCE:
        out.unlink()
        raise ModelCardError(f"the TensorFlow Lite copy of {name} differs by {difference:.2e}: not written")
    card.extra["tflite"] = {
        "file": out.name,
        "sha256": model_card.file_sha256(out),
        "megabytes": round(out.stat().st_size / 1e6, 2),
        "largest_difference": difference,
        "checked_on": f"{len(images)} face crops" + (f": {checked_on}" if checked_on else ""),
    }
    logger.info("%s: TensorFlow Lite copy %s, largest difference %.2e", name, out.name, difference)
    return model_card.write_card(card, folder)
