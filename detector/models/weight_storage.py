"""How a trained model is stored on disk: a Keras ``.keras`` file, or 8-bit weights restored to float at load.

The large architectures do not fit the product's file budget as float32 (InceptionResNetV2: 54 M parameters,
220 MB; GitHub refuses files over 100 MB). ``save_int8`` stores every large weight tensor as int8 with one float32
scale per output channel (symmetric: ``w ≈ q * scale``, ``q`` in [-127, 127]) and everything small (biases, batch
normalisation statistics) as float32, beside the model's architecture as Keras JSON. ``load`` rebuilds the model and
restores float32 weights, so inference code is the same for both formats. Whether quality moved is measured, not
assumed: ``python -m detector quantize`` scores the validation split with both and writes the comparison into the
new model's card.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

KERAS_SUFFIX = ".keras"
INT8_SUFFIX = ".int8.npz"
SUFFIXES = (KERAS_SUFFIX, INT8_SUFFIX)
FORMAT_VERSION = 1
# Tensors with fewer values stay float32: their bytes do not matter and some (batch normalisation variances)
# span ranges that one scale per channel would flatten.
MIN_QUANTIZED_SIZE = 1024
# A fixed timestamp for the archive's members, so the same weights always give the same file and sha256.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def channel_axis(shape: tuple[int, ...]) -> int:
    """The axis that gets its own scale: the output channels (last axis), or for a depthwise kernel
    ``(h, w, channels, 1)`` the channels before it."""
    return len(shape) - 2 if shape[-1] == 1 and len(shape) >= 2 else len(shape) - 1


def quantize(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(int8 values, float32 scales)`` with ``weights ≈ values * scales`` (scales broadcast along the channel
    axis). A channel of zeros gets scale 1, so it comes back as exact zeros."""
    weights = np.asarray(weights, dtype=np.float32)
    axis = channel_axis(weights.shape)
    reduce_axes = tuple(index for index in range(weights.ndim) if index != axis)
    peak = np.max(np.abs(weights), axis=reduce_axes, keepdims=True)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    values = np.clip(np.rint(weights / scales), -127, 127).astype(np.int8)
    return values, scales


def dequantize(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return values.astype(np.float32) * scales


def _add_array(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME), buffer.getvalue(), zipfile.ZIP_DEFLATED)


def save_int8(model: Any, path: Path) -> dict[str, Any]:
    """Writes ``model`` to ``path`` (``*.int8.npz``); returns what was stored (counts, bytes, largest error)."""
    path = Path(path)
    if not path.name.endswith(INT8_SUFFIX):
        raise ValueError(f"an 8-bit weights file must end in {INT8_SUFFIX}, got {path.name}")
    weights = model.get_weights()
    quantized_count = 0
    largest_error = 0.0
    header = {"format_version": FORMAT_VERSION, "model": json.loads(model.to_json()), "count": len(weights)}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("header.json", date_time=_ZIP_TIME), json.dumps(header))
        for index, tensor in enumerate(weights):
            if tensor.size >= MIN_QUANTIZED_SIZE and np.issubdtype(tensor.dtype, np.floating) and tensor.ndim >= 2:
                values, scales = quantize(tensor)
                largest_error = max(largest_error, float(np.max(np.abs(dequantize(values, scales) - tensor))))
                _add_array(archive, f"{index}.q", values)
                _add_array(archive, f"{index}.scale", scales)
                quantized_count += 1
            else:
                _add_array(archive, f"{index}.f", np.asarray(tensor))
    return {
        "tensors": len(weights),
        "tensors_8bit": quantized_count,
        "parameters": int(sum(tensor.size for tensor in weights)),
        "file_megabytes": round(path.stat().st_size / 1e6, 2),
        "largest_weight_error": largest_error,
    }


def load_int8(path: Path) -> Any:
    """The model stored by ``save_int8``, with float32 weights."""
    import keras

    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read("header.json"))
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unknown 8-bit weights format {header.get('format_version')!r}")
        names = set(archive.namelist())

        def array(name: str) -> np.ndarray:
            return np.load(io.BytesIO(archive.read(f"{name}.npy")), allow_pickle=False)

        weights = []
        for index in range(header["count"]):
            if f"{index}.q.npy" in names:
                weights.append(dequantize(array(f"{index}.q"), array(f"{index}.scale")))
            else:
                weights.append(array(f"{index}.f"))
    model = keras.models.model_from_json(json.dumps(header["model"]))
    model.set_weights(weights)
    return model


def load(path: Path) -> Any:
    """A stored model, whichever the format (by the file name's ending), ready for inference."""
    path = Path(path)
    if path.name.endswith(INT8_SUFFIX):
        return load_int8(path)
    import keras

    return keras.saving.load_model(path, compile=False)


def model_name(path: Path) -> str | None:
    """``models/x.keras`` and ``models/x.int8.npz`` -> ``"x"``; any other file -> None."""
    for suffix in SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


# The name of the last layer of a model that averages others (``detector.training.architectures.average_of``).
AVERAGE_LAYER = "average_of_members"


def average_members(model: Any) -> list[Any]:
    """The member models of a model that averages others; empty for any other model."""
    import keras

    if not model.layers or model.layers[-1].name != AVERAGE_LAYER:
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]
