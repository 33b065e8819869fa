"""The weights a training run starts from (``--init``): this project's checkpoints, loaded by layer name, or a
Keras applications backbone file, each into the layers of a classifier from ``architectures.build_classifier``
where it fits.

A checkpoint of a plain network starts its variants: the layers they share by name load as saved, and the one
layer where a variant takes new inputs (``architectures.NEW_INPUTS``) gets zeros for them, so the variant starts out
computing exactly what the checkpoint did.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from detector.training import architectures

logger = logging.getLogger(__name__)


def _initial_weights_target(model: keras.Model, path: Path) -> tuple[keras.Model, dict]:
    """Where ``--init`` weights go: a legacy HDF5 file of a backbone alone (its layers do not include the
    classifier's head) into the nested backbone, by layer name; anything else into the whole model."""
    legacy = path.suffix in (".h5", ".hdf5") and not path.name.endswith(".weights.h5")
    backbones = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not (legacy and backbones):
        return model, {}
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"] if "layer_names" not in handle.attrs and "model_weights" in handle else handle
        names = {name.decode() if isinstance(name, bytes) else name for name in group.attrs.get("layer_names", [])}
    if model.layers[-1].name in names:
        return model, {}
    return backbones[0], {"by_name": True}


def _load_by_layer_name(model: keras.Model, path: Path) -> None:
    """Copies the weights of the classifier saved at ``path`` into ``model``'s layers of the same name and shapes.

    One mismatch is bridged (``architectures.NEW_INPUTS``): the layer where a variant takes new inputs beside the
    plain network's (the stem convolution of ``compact_high_pass``, which sees the high-pass residuals beside RGB;
    the head of ``compact_spectrum``, which sees the spectrum branch's features beside the RGB branch's; the head of
    ``compact_two_view``, which sees the lower view's features before the whole view's) gets the saved kernel for
    the plain network's inputs and zeros for the new ones, so the variant starts out computing exactly what the
    saved network did and learns from there how much to use them. A two-view network's lower view carries the plain
    network's names behind ``architectures.LOWER_VIEW_PREFIX`` and is started from the same layers as the whole
    view. The fixed layers (``architectures.FIXED_KERNELS``) keep their filters."""
    source = keras.saving.load_model(path, compile=False)
    saved = {layer.name: layer for layer in source.layers}
    widened_layer, added, new_first = architectures.NEW_INPUTS.get(model.name, (None, 0, False))
    for layer in model.layers:
        match = saved.get(layer.name)
        if match is None and layer.name.startswith(architectures.LOWER_VIEW_PREFIX):
            match = saved.get(layer.name.removeprefix(architectures.LOWER_VIEW_PREFIX))
        if match is None or layer.name in architectures.FIXED_KERNELS or len(layer.weights) != len(match.weights):
            continue
        values = match.get_weights()
        widen = added if layer.name == widened_layer else 0
        # A layer loads whole or not at all: a bias that happens to fit under a kernel that does not is no start.
        if all(_fits(variable, value, widen) for variable, value in zip(layer.weights, values, strict=True)):
            for variable, value in zip(layer.weights, values, strict=True):
                widened = tuple(variable.shape) != value.shape
                variable.assign(_widened(variable, value, new_first) if widened else value)


def _fits(variable: keras.Variable, value: np.ndarray, added: int = 0) -> bool:
    """Same shape, or (``added`` > 0) a convolution or dense kernel that takes ``added`` more inputs
    (``_widened``): its input axis, the second to last, that much longer and every other axis the same."""
    shape = tuple(variable.shape)
    if shape == value.shape:
        return True
    if not added or value.ndim not in (2, 4) or len(shape) != value.ndim:
        return False
    others_match = shape[:-2] == value.shape[:-2] and shape[-1] == value.shape[-1]
    return others_match and shape[-2] == value.shape[-2] + added


def _widened(variable: keras.Variable, value: np.ndarray, new_first: bool) -> np.ndarray:
    """The saved kernel for the plain network's inputs, zeros for the new ones (before them if ``new_first``)."""
    widened = np.zeros(variable.shape, value.dtype)
    plain = slice(variable.shape[-2] - value.shape[-2], None) if new_first else slice(None, value.shape[-2])
    widened[..., plain, :] = value
    return widened


def load_initial_weights(model: keras.Model, path: Path) -> int:
    """Loads ``--init`` weights where they fit and returns how many float weight arrays it loaded.

    A saved classifier (``.keras``) is loaded by layer name (``_load_by_layer_name``), so that a variant of an
    architecture (``compact_high_pass``) starts from the plain one's weights. For weights files Keras pairs the
    file's layers with the model's by their order and class (not their names) and, with ``skip_mismatch``, only
    warns where the shapes differ; a file of another architecture would leave every array
    at its random start while the card said "fine-tuned from", so no match at all is an error and a partial match
    is logged by name. Every float array is filled with NaN first: the ones still NaN afterwards were skipped and
    get their start back. Other arrays (none in this project's architectures) are loaded but not counted.

    A legacy HDF5 file (``.h5``, as Keras applications ship their ImageNet weights, e.g.
    ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``) holds a backbone's layers by name, not this
    project's classifier: it is loaded by name into the nested backbone, and the head keeps its random start.
    """
    weights = model.weights
    fresh = [variable.numpy() for variable in weights]
    # The fixed layers are not learned: they are set when the model is built, whatever the file holds.
    fixed = architectures.FIXED_KERNELS
    checked = [
        index
        for index, variable in enumerate(weights)
        if keras.backend.is_float_dtype(variable.dtype) and variable.path.split("/")[0] not in fixed
    ]
    for index in checked:
        weights[index].assign(np.full(weights[index].shape, np.nan, fresh[index].dtype))
    if path.suffix == ".keras":
        _load_by_layer_name(model, path)
    else:
        target, options = _initial_weights_target(model, path)
        target.load_weights(path, skip_mismatch=True, **options)
    skipped = [index for index in checked if np.isnan(weights[index].numpy()).all()]
    for index in skipped:
        weights[index].assign(fresh[index])
    loaded = len(checked) - len(skipped)
    if loaded == 0:
        raise ValueError(f"--init {path}: none of the model's {len(checked)} weight arrays matched it")
    if skipped:
        names = ", ".join(weights[index].path for index in skipped[:5])
        logger.warning(
            "--init %s: %d of %d weight arrays loaded; %s%s keep their random start",
            path,
            loaded,
            len(checked),
            names,
            " ..." if len(skipped) > 5 else "",
        )
    else:
        logger.info("--init %s: all %d weight arrays loaded", path, loaded)
    return loaded
