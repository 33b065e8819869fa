"""Where the model looked: Grad-CAM heatmaps of face crops.

Grad-CAM (Selvaraju et al., 2017) weighs each channel of the last convolutional feature map by the mean gradient
of the fake probability with respect to it, sums the weighted channels and keeps the positive part: the regions
whose features raised the fake probability. The map is as coarse as the feature map (8 x 8 for the compact model
at 128 px) and is enlarged to the crop. It shows what drove the score, not where a video was edited.

The feature map is found generically: the last layer with a 4-D output before global pooling, searched inside
nested models too (Keras applications such as ResNet50 sit inside our classifiers as one layer). TensorFlow is
imported only when a map is computed.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from detector.errors import ModelCardError
from detector.types import VideoResult

if TYPE_CHECKING:
    import keras

    from detector.analysis.scoring import EnsembleScorer, FaceScorer

logger = logging.getLogger(__name__)

# Faces explained per person, in the page and in the reports alike: each person's most suspicious.
EXPLAINED_PER_PERSON = 3

# Sub-models built for a model, kept as long as the model lives: building one costs a graph walk.
_GRADIENT_MODELS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# And the part of its input each model's map covers (``_seen_fractions``), which walks the graph too.
_SEEN_FRACTIONS: weakref.WeakKeyDictionary[Any, tuple[float, float, float, float]] = weakref.WeakKeyDictionary()


def _is_model(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model) and hasattr(layer, "layers")


def feature_layer_path(model: keras.Model) -> list[Any]:
    """The layers leading to the last 4-D feature map: ``[nested model, ..., feature layer]``.

    Walks ``model.layers`` from the output back; a nested model is searched the same way, and it is entered only
    when it holds such a layer. Raises ``ValueError`` when the model has no 4-D layer (nothing to map).
    """
    for layer in reversed(model.layers):
        if type(layer).__name__ == "InputLayer":
            continue
        if _is_model(layer):
            try:
                return [layer, *feature_layer_path(layer)]
            except ValueError:
                continue
        if len(layer.output.shape) == 4:
            return [layer]
    raise ValueError(f"model {model.name!r} has no layer with a 4-D output to explain")


def _single(tensors: list[Any]) -> Any:
    return tensors[0] if len(tensors) == 1 else tensors


def _is_sigmoid_dense(layer: Any) -> bool:
    return type(layer).__name__ == "Dense" and getattr(layer.activation, "__name__", "") == "sigmoid"


def _features_and_score(model: keras.Model, path: Sequence[Any], logit: bool) -> keras.Model:
    """A model sharing ``model``'s weights with two outputs: the feature map at the end of ``path`` and the score.

    The graph is rebuilt with ``clone_model`` reusing every layer (no weight is copied). A nested model on
    ``path`` is replaced by its own two-output version. With ``logit``, a sigmoid ``Dense`` layer that makes the
    model's output gives its logit instead: a saturated sigmoid (exactly 0 or 1 in float32) has no gradient,
    while the logit keeps one, and Grad-CAM's normalised map is the same for both where both exist.
    """
    import keras

    target = path[0]
    output_layer = model.layers[-1]
    inner = _features_and_score(target, path[1:], logit and target is output_layer) if len(path) > 1 else None
    captured: list[Any] = []

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if layer is target and inner is not None:
            features, output = inner(*args, **kwargs)
            captured.append(features)
            return output
        if logit and layer is output_layer and _is_sigmoid_dense(layer):
            inputs = args[0]
            output = keras.ops.matmul(inputs, layer.kernel)
            return output + layer.bias if layer.use_bias else output
        output = layer(*args, **kwargs)
        if layer is target:
            captured.append(output)
        return output

    rebuilt = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    if len(captured) != 1:
        raise ValueError(f"layer {target.name!r} is used {len(captured)} times in {model.name!r}: cannot explain")
    return keras.Model(_single(rebuilt.inputs), [captured[0], rebuilt.output])


def gradient_model(model: keras.Model) -> keras.Model:
    """``model``'s (feature map, fake score) sub-model, built once per model (see ``_features_and_score``)."""
    try:
        return _GRADIENT_MODELS[model]
    except KeyError:
        built = _features_and_score(model, feature_layer_path(model), logit=True)
        _GRADIENT_MODELS[model] = built
        return built


def model_heatmaps(model: keras.Model, crops: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Grad-CAM maps ``(N, S, S) float32`` in [0, 1] of ``crops`` ``(N, S, S, 3) uint8 RGB`` for ``model``.

    ``model`` takes ``(N, S, S, 3) float32`` in [0, 255] and returns the fake probability ``(N, 1)``. Each map is
    divided by its own maximum, so 1 marks the region that raised the fake probability most in that crop; a
    crop in which no region raised it gets an all-zero map.
    """
    import tensorflow as tf

    from detector.models import weight_storage

    crops = np.asarray(crops)
    size = model.input_shape[1:3]
    if crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1:3] != tuple(size) or crops.dtype != np.uint8:
        raise ValueError(f"crops must be (N, {size[0]}, {size[1]}, 3) uint8 RGB, got {crops.shape} {crops.dtype}")
    if len(crops) == 0:
        return np.zeros((0, *crops.shape[1:3]), np.float32)
    members = weight_storage.average_members(model)
    if members:
        # The score is the members' mean, so the map is the mean of theirs (each from its own logit).
        return np.mean([model_heatmaps(member, crops, batch_size) for member in members], axis=0).astype(np.float32)
    explainer = gradient_model(model)
    maps = []
    for start in range(0, len(crops), batch_size):
        batch = tf.convert_to_tensor(crops[start : start + batch_size], dtype=tf.float32)
        # The tape records from the weights on: watching the input would record the resizing layer, whose
        # area interpolation has no gradient in TensorFlow.
        with tf.GradientTape() as tape:
            features, score = explainer(batch, training=False)
            tape.watch(features)
            total = tf.reduce_sum(score)  # Each crop's score depends on its own features only.
        gradients = tape.gradient(total, features)
        weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(features * weights, axis=-1)).numpy()
        if not np.all(np.isfinite(cam)):
            raise ModelCardError(f"model {model.name!r} gave non-finite gradients: its weights may be damaged")
        maps.append(cam)
    region = _seen_region(model, crops.shape[1:3])
    return np.stack([_normalised(cam, crops.shape[1:3], region) for cam in np.concatenate(maps)])


def _seen_fractions(model: keras.Model) -> tuple[float, float, float, float]:
    """``(top, bottom, left, right)`` as fractions of ``model``'s input: the part its mapped features see
    (``feature_layer_path``). All of it, unless a ``Cropping2D`` layer cuts a part out on their way (as
    ``compact_lower`` cuts the lower face; ``compact_two_view`` cuts it only for its other view, which is not mapped),
    also inside a nested model (an average's member behind its resize)."""
    import keras

    if model in _SEEN_FRACTIONS:
        return _SEEN_FRACTIONS[model]
    path = feature_layer_path(model)
    owners = [model, *path[:-1]]
    # Above the innermost model every layer is on the way to it; inside it, only those the mapped layer depends on.
    on_the_way = [layer for owner in owners[:-1] for layer in owner.layers]
    on_the_way += keras.Model(owners[-1].inputs, path[-1].output).layers
    found = []
    for layer in on_the_way:
        if type(layer).__name__ == "Cropping2D":
            (top, bottom), (left, right) = layer.cropping
            height, width = layer.input.shape[1:3]
            found.append((top / height, 1 - bottom / height, left / width, 1 - right / width))
    if len(found) > 1:
        raise ValueError(f"model {model.name!r} cuts its input more than once: cannot place its map")
    _SEEN_FRACTIONS[model] = found[0] if found else (0.0, 1.0, 0.0, 1.0)
    return _SEEN_FRACTIONS[model]


def _seen_region(model: keras.Model, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)``: the rows and columns of a ``size`` crop the model's features see."""
    top, bottom, left, right = _seen_fractions(model)
    return round(top * size[0]), round(bottom * size[0]), round(left * size[1]), round(right * size[1])


def _normalised(cam: np.ndarray, size: tuple[int, int], region: tuple[int, int, int, int]) -> np.ndarray:
    """One coarse map enlarged (bilinear) to ``region`` ``(top, bottom, left, right)`` of a ``size`` crop
    (``_seen_region``), zero outside it, and scaled to [0, 1] by its maximum."""
    top, bottom, left, right = region
    enlarged = np.zeros(size, np.float32)
    enlarged[top:bottom, left:right] = cv2.resize(
        cam.astype(np.float32), (right - left, bottom - top), interpolation=cv2.INTER_LINEAR
    )
    enlarged = np.clip(enlarged, 0.0, None)
    peak = float(enlarged.max())
    return (enlarged / peak if peak > 0 else np.zeros_like(enlarged)).astype(np.float32)


def heatmaps(scorer_member: FaceScorer, crops: np.ndarray) -> np.ndarray:
    """Grad-CAM maps ``(N, S, S) float32`` in [0, 1] for one model of an ensemble (see ``model_heatmaps``)."""
    return model_heatmaps(scorer_member.model, crops, scorer_member.batch_size)


def ensemble_heatmaps(scorer: EnsembleScorer, crops: np.ndarray) -> np.ndarray:
    """The mean of the members' maps ``(N, S, S) float32`` in [0, 1]: the ensemble's score is their mean too."""
    return np.mean([heatmaps(member, crops) for member in scorer.scorers], axis=0).astype(np.float32)


def overlay(crop: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """``crop`` ``(S, S, 3) uint8 RGB`` with ``heatmap`` ``(S, S)`` in [0, 1] laid over it: ``(S, S, 3) uint8 RGB``.

    The map is coloured with OpenCV's JET colour map (blue cold, red warm); ``alpha`` is its opacity.
    """
    crop = np.asarray(crop)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
        raise ValueError(f"crop must be (S, S, 3) uint8 RGB, got {crop.shape} {crop.dtype}")
    if heatmap.shape != crop.shape[:2]:
        raise ValueError(f"heatmap must be {crop.shape[:2]}, got {heatmap.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    levels = np.round(np.clip(np.nan_to_num(heatmap), 0.0, 1.0) * 255).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    blended = (1.0 - alpha) * crop.astype(np.float32) + alpha * colours.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def top_faces(result: VideoResult, per_person: int = EXPLAINED_PER_PERSON) -> list[tuple[int, int]]:
    """The ``(frame_index, track_id)`` keys of each person's most suspicious faces that have a crop.

    In the order the page's gallery shows them: people in track order, faces by falling fake probability.
    """
    if per_person < 1:
        raise ValueError(f"per_person must be at least 1, got {per_person}")
    keys = []
    for track in result.tracks:
        with_crop = [score for score in track.scores if (score.frame_index, score.track_id) in result.crops]
        ranked = sorted(with_crop, key=lambda score: (-score.fake_probability, score.frame_index))
        keys += [(score.frame_index, score.track_id) for score in ranked[:per_person]]
    return keys


def explain_top_faces(
    result: VideoResult, scorer: EnsembleScorer, per_person: int = EXPLAINED_PER_PERSON
) -> dict[tuple[int, int], np.ndarray]:
    """Overlays ``(S, S, 3) uint8 RGB`` of each person's ``per_person`` most suspicious faces, by crop key.

    One gradient pass per model over those crops (a few seconds at most on two cores).
    """
    keys = top_faces(result, per_person)
    if not keys:
        return {}
    crops = np.stack([result.crops[key] for key in keys])
    maps = ensemble_heatmaps(scorer, crops)
    return {key: overlay(crop, heatmap) for key, crop, heatmap in zip(keys, crops, maps, strict=True)}
