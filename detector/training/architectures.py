"""Classifier architectures, built by name.

Every model takes face crops as ``(batch, input_size, input_size, 3) float32 RGB in [0, 255]`` and returns the
probability that the face is fake, ``(batch, 1)``. Resizing to the working resolution and scaling to [-1, 1]
happen inside the model, so a saved ``.keras`` file carries its own preprocessing and code that scores crops only
needs the input size from the model card.

``compact`` is the default: a small residual network of depthwise-separable convolutions that trains on two CPU
cores. ``compact_wide`` is the same design with three times the parameters in its deeper stages, where they cost
little time (the full-resolution stem dominates a step: 1.3 times the default's training step for 3.2 times its
parameters). ``compact_deep`` goes on where the maps are small: one more block at 16 px and a last stage of four
blocks of 512 filters, twice compact_wide's parameters for about 1.4 times its training step and scoring time.
``compact_lower`` is compact_wide on the lower face only: the model cuts ``LOWER_FACE_REGION`` (nose base, mouth,
chin) out of its input before resizing, so at a 224 px input and a 128 px working resolution it sees the mouth with
1.7 times as many pixels across as the whole-face networks give it, where expression reenactment leaves its traces.
Its layers carry compact_wide's names, so a compact_wide checkpoint starts it. ``compact_local`` sees only patches:
compact_wide's stem and first two blocks (a receptive field of 33 px at 128 px, a third of a face), then
per-position layers, and the crop's logit is the mean of its patches' logits. A classifier that cannot see the whole
face must judge local traces (a seam, a patch of resampled skin) rather than the face's look, which is what a
manipulation it never saw shares with those it did (Chai et al., 2020, "What makes fake images detectable?"). Its
layers carry compact_wide's names, so a compact_wide checkpoint starts it. ``compact_spectrum`` adds a branch over
each 8 x 8 block's DCT magnitudes beside compact_wide's. ``compact_two_view`` joins compact_lower's view to
compact_wide's in one network: two compact_wides, one over the whole face and one over the lower face, and one head
over both views' features. The three others are the architectures of the projects this one grew from (Keras
applications, built with ``weights=None``: nothing is downloaded).

Also here: the dtype policy a classifier computes with (a run may train in ``mixed_bfloat16``; ``float32_copy`` is
what ships). Loading the weights a run starts from (``--init``) is ``initial_weights``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import keras
import numpy as np
from keras import layers

from detector.models import weight_storage
from detector.training import ARCHITECTURES

# (filters, stride) of each residual block after the stem.
_COMPACT_STAGES = ((64, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1))
_COMPACT_WIDE_STAGES = ((96, 2), (96, 1), (192, 2), (192, 1), (192, 1), (384, 2), (384, 1), (384, 1))
_COMPACT_DEEP_STAGES = (
    (96, 2),
    (96, 1),
    (192, 2),
    (192, 1),
    (192, 1),
    (192, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
)


# The lower face in the analysis framing, as fractions of the crop's side: (top, left, right) margins cut away (the
# bottom edge is kept). Measured on the 128 px meshes of the mixed runs' training reals (DFDC, FF++, UTKFace): the
# nose base's median height 0.57-0.64 of the side, the chin's 0.96-1.04, the mouth corners' 5th-95th percentiles
# 0.26-0.76 across. The square from 0.42 down and 0.21-0.79 across holds the nose base, both mouth corners and the
# lower lip in 98.3% of DFDC's training reals, 99.95% of UTKFace's and all of FF++'s (turned heads are the rest).
LOWER_FACE_REGION = (0.42, 0.21, 0.21)
LOWER_FACE_LAYER = "lower_face"


def lower_face_cropping(input_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``((top, bottom), (left, right))`` pixels ``compact_lower`` cuts from an ``input_size`` crop."""
    top, left, right = (round(fraction * input_size) for fraction in LOWER_FACE_REGION)
    return (top, 0), (left, right)


def _preprocessing(inputs: keras.KerasTensor, resolution: int, prefix: str = "") -> keras.KerasTensor:
    x = inputs
    if inputs.shape[1] != resolution or inputs.shape[2] != resolution:
        # Area interpolation matches cv2.INTER_AREA, which made the cached training images.
        x = layers.Resizing(resolution, resolution, interpolation="area", name=f"{prefix}resize")(x)
    return layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{prefix}scale")(x)


# Fixed high-pass filters (the residual kernels of steganalysis rich models, SRM): a second-order 3x3, the 5x5
# "KB" square and a first-order horizontal-vertical pair. Applied to each colour channel, they keep what blending
# and resampling leave (seams, interpolation, a second compression's grid) and drop the face's content.
_HIGH_PASS_KERNELS = (
    np.array([[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]) / 4.0,
    np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]])
    / 12.0,
    np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]) / 2.0,
)
# The residuals are small; clipped to this (on the [-1, 1] scale) and rescaled to [-1, 1], as SRM truncates them.
_HIGH_PASS_CLIP = 3.0 / 127.5
HIGH_PASS_LAYER = "high_pass"


def high_pass_kernel() -> np.ndarray:
    """The depthwise kernel ``(5, 5, 3, len(_HIGH_PASS_KERNELS))`` of the fixed high-pass layer: each filter on
    each colour channel."""
    stacked = np.stack(_HIGH_PASS_KERNELS, axis=-1).astype(np.float32)
    return np.repeat(stacked[:, :, np.newaxis, :], 3, axis=2)


def _with_high_pass(x: keras.KerasTensor) -> keras.KerasTensor:
    """The scaled RGB crop with the fixed high-pass residuals of each channel beside it (3 + 9 channels)."""
    residuals = layers.DepthwiseConv2D(
        5,
        padding="same",
        depth_multiplier=len(_HIGH_PASS_KERNELS),
        use_bias=False,
        trainable=False,
        name=HIGH_PASS_LAYER,
    )(x)
    # clip(r, -c, c) / c from built-in layers (a Lambda would not load in safe mode): r / c + 1, cut to [0, 2],
    # less 1.
    residuals = layers.Rescaling(1.0 / _HIGH_PASS_CLIP, offset=1.0, name="high_pass_scale")(residuals)
    residuals = layers.ReLU(max_value=2.0, name="high_pass_clip")(residuals)
    residuals = layers.Rescaling(1.0, offset=-1.0, name="high_pass_centre")(residuals)
    return layers.Concatenate(name="with_high_pass")([x, residuals])


# compact_spectrum's fixed layers: the luminance (ITU-R BT.601 weights, as JPEG's) and the orthonormal 2D DCT-II
# of each 8 x 8 block of it, one output channel per frequency (row-major, the DC term first).
DCT_BLOCK = 8
SPECTRUM_LUMA_LAYER = "spectrum_luma"
SPECTRUM_DCT_LAYER = "spectrum_dct"
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)
SPECTRUM_FILTERS = 128
SPECTRUM_FEATURES = 64


def dct_kernel(block: int = DCT_BLOCK) -> np.ndarray:
    """The convolution kernel ``(block, block, 1, block * block)`` whose output channel ``u * block + v`` is the
    orthonormal DCT-II coefficient ``(u, v)`` (``u`` down, ``v`` across) of a ``block x block`` patch."""
    positions = np.arange(block)
    scale = np.full(block, np.sqrt(2.0 / block))
    scale[0] = np.sqrt(1.0 / block)
    basis = scale[:, np.newaxis] * np.cos(
        np.pi * (2 * positions[np.newaxis, :] + 1) * positions[:, np.newaxis] / (2 * block)
    )
    # basis[u, x]: frequency u at position x; the 2D basis of (u, v) at (y, x) is basis[u, y] * basis[v, x].
    kernel = np.einsum("uy,vx->yxuv", basis, basis).reshape(block, block, 1, block * block)
    return kernel.astype(np.float32)


def _luma_kernel() -> np.ndarray:
    """The 1x1 convolution kernel ``(1, 1, 3, 1)`` of the BT.601 luminance of RGB."""
    return np.array(_LUMA_WEIGHTS, np.float32).reshape(1, 1, 3, 1)


# The layers whose weights are set when the model is built and never learned or loaded: name -> their kernel.
FIXED_KERNELS: dict[str, Callable[[], np.ndarray]] = {
    HIGH_PASS_LAYER: high_pass_kernel,
    SPECTRUM_LUMA_LAYER: _luma_kernel,
    SPECTRUM_DCT_LAYER: dct_kernel,
}


def _spectrum_branch(x: keras.KerasTensor) -> keras.KerasTensor:
    """The magnitudes of each 8 x 8 block's frequencies, then a per-block mix of them and two separable
    convolutions over the grid of blocks, pooled into ``(batch, SPECTRUM_FEATURES)`` features."""
    luma = layers.Conv2D(1, 1, use_bias=False, trainable=False, name=SPECTRUM_LUMA_LAYER)(x)
    coefficients = layers.Conv2D(
        DCT_BLOCK * DCT_BLOCK, DCT_BLOCK, strides=DCT_BLOCK, use_bias=False, trainable=False, name=SPECTRUM_DCT_LAYER
    )(luma)
    # |c| = relu(c) + relu(-c), from built-in layers (a Lambda would not load in safe mode). The sign of a
    # coefficient follows the content's phase; how much energy each frequency holds is what a trace changes.
    positive = layers.ReLU(name="spectrum_positive")(coefficients)
    negated = layers.Rescaling(-1.0, name="spectrum_negate")(coefficients)
    negative = layers.ReLU(name="spectrum_negative")(negated)
    magnitude = layers.Add(name="spectrum_magnitude")([positive, negative])
    # Each frequency on its own scale: the DC term, the block's mean, is far larger than the highest ones.
    x = layers.BatchNormalization(name="spectrum_bn0")(magnitude)
    x = layers.Conv2D(SPECTRUM_FILTERS, 1, use_bias=False, name="spectrum_mix")(x)
    x = layers.BatchNormalization(name="spectrum_bn1")(x)
    x = layers.Activation("relu", name="spectrum_relu1")(x)
    x = _separable_block(x, SPECTRUM_FILTERS, 1, name="spectrum_block1")
    x = _separable_block(x, SPECTRUM_FILTERS, 2, name="spectrum_block2")
    x = layers.GlobalAveragePooling2D(name="spectrum_pool")(x)
    # A few features for the head: the spectrum adds evidence beside the RGB branch's 384, it does not rival it.
    # Being one layer further from the output, it also keeps the RGB branch's map the last one in the model's layer
    # order, where Grad-CAM looks (the blocks' spectra would be a coarser map of a branch that is not the main one).
    return layers.Dense(SPECTRUM_FEATURES, activation="relu", name="spectrum_features")(x)


def _spectrum_backbone(stages: tuple[tuple[int, int], ...]) -> Callable:
    def backbone(x: keras.KerasTensor) -> keras.KerasTensor:
        pixels = _compact_backbone(stages)(x)
        spectrum = _spectrum_branch(x)
        return layers.Concatenate(name="with_spectrum")([pixels, spectrum])

    return backbone


def _separable_block(x: keras.KerasTensor, filters: int, stride: int, name: str) -> keras.KerasTensor:
    shortcut = x
    x = layers.SeparableConv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_sep1")(x)
    x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = layers.Activation("relu", name=f"{name}_relu1")(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep2")(x)
    x = layers.BatchNormalization(name=f"{name}_bn2")(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _compact_backbone(
    stages: tuple[tuple[int, int], ...], high_pass: bool = False, pool: bool = True, prefix: str = ""
) -> Callable:
    def backbone(x: keras.KerasTensor) -> keras.KerasTensor:
        if high_pass:
            x = _with_high_pass(x)
        # The first stage keeps full resolution for one convolution: blending and resampling traces are
        # high-frequency, and an early stride-2 stem would discard them before any filter can see them.
        x = layers.Conv2D(24, 3, padding="same", use_bias=False, name=f"{prefix}stem_conv1")(x)
        x = layers.BatchNormalization(name=f"{prefix}stem_bn1")(x)
        x = layers.Activation("relu", name=f"{prefix}stem_relu1")(x)
        x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name=f"{prefix}stem_conv2")(x)
        x = layers.BatchNormalization(name=f"{prefix}stem_bn2")(x)
        x = layers.Activation("relu", name=f"{prefix}stem_relu2")(x)
        for index, (filters, stride) in enumerate(stages):
            x = _separable_block(x, filters, stride, name=f"{prefix}block{index + 1}")
        return layers.GlobalAveragePooling2D(name=f"{prefix}pool")(x) if pool else x

    return backbone


# compact_local: compact_wide's first two blocks (to 32 px at 128), then per-position layers of this many filters.
_COMPACT_LOCAL_STAGES = _COMPACT_WIDE_STAGES[:2]
LOCAL_FILTERS = 192
LOCAL_RECEPTIVE_FIELD = 33  # px of the working resolution: 3x3 stem, stride-2 3x3, two blocks of two 3x3


def _local_backbone(x: keras.KerasTensor) -> keras.KerasTensor:
    """compact_wide's stem and first two blocks, two 1x1 convolutions (they judge each position without seeing
    further), then the mean over positions: the dense layer after it scores the mean of the patches' logits."""
    x = _compact_backbone(_COMPACT_LOCAL_STAGES, pool=False)(x)
    for index in (1, 2):
        x = layers.Conv2D(LOCAL_FILTERS, 1, use_bias=False, name=f"local{index}_conv")(x)
        x = layers.BatchNormalization(name=f"local{index}_bn")(x)
        x = layers.Activation("relu", name=f"local{index}_relu")(x)
    return layers.GlobalAveragePooling2D(name="pool")(x)


# compact_two_view: the lower-face view's layers carry compact_wide's names behind this prefix, so that a
# compact_wide checkpoint starts both views (``_load_by_layer_name``).
LOWER_VIEW_PREFIX = "lower_"
TWO_VIEW_LAYER = "with_lower_face"


def _two_view_features(inputs: keras.KerasTensor, resolution: int) -> keras.KerasTensor:
    """The features of another compact_wide over the lower face alone (``LOWER_FACE_REGION``, cut before
    resizing, so at a 224 px input it works on the mouth at 1.7 times the whole view's scale), then compact_wide's
    of the whole face: ``(batch, 2 * 384)``."""
    lower = layers.Cropping2D(lower_face_cropping(inputs.shape[1]), name=LOWER_FACE_LAYER)(inputs)
    lower = _preprocessing(lower, resolution, prefix=LOWER_VIEW_PREFIX)
    lower = _compact_backbone(_COMPACT_WIDE_STAGES, prefix=LOWER_VIEW_PREFIX)(lower)
    # Joined second, the whole view's layers come after the lower view's of the same depth in the model's layer
    # order, so Grad-CAM (the last feature map) maps the whole face.
    whole = _compact_backbone(_COMPACT_WIDE_STAGES)(_preprocessing(inputs, resolution))
    return layers.Concatenate(name=TWO_VIEW_LAYER)([lower, whole])


def _application_backbone(factory: Callable[..., keras.Model], resolution: int) -> Callable:
    def backbone(x: keras.KerasTensor) -> keras.KerasTensor:
        base = factory(include_top=False, weights=None, input_shape=(resolution, resolution, 3), pooling="avg")
        return base(x)

    return backbone


def build_classifier(
    architecture: str, input_size: int = 224, resolution: int = 128, dropout: float = 0.3
) -> keras.Model:
    """A fake-probability classifier with its preprocessing inside.

    ``input_size`` is the side of the crops it is fed; ``resolution`` the side it works at.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if input_size < 32 or resolution < 32:
        raise ValueError(f"input_size and resolution must be at least 32, got {input_size}, {resolution}")
    backbones: dict[str, Callable] = {
        "compact": _compact_backbone(_COMPACT_STAGES),
        "compact_wide": _compact_backbone(_COMPACT_WIDE_STAGES),
        "compact_deep": _compact_backbone(_COMPACT_DEEP_STAGES),
        "compact_high_pass": _compact_backbone(_COMPACT_STAGES, high_pass=True),
        "compact_local": _local_backbone,
        "compact_lower": _compact_backbone(_COMPACT_WIDE_STAGES),
        "compact_spectrum": _spectrum_backbone(_COMPACT_WIDE_STAGES),
        "inception_resnet_v2": _application_backbone(keras.applications.InceptionResNetV2, resolution),
        "vgg16": _application_backbone(keras.applications.VGG16, resolution),
        "resnet50": _application_backbone(keras.applications.ResNet50, resolution),
    }
    inputs = keras.Input((input_size, input_size, 3), name="face")
    if architecture == "compact_two_view":
        x = _two_view_features(inputs, resolution)
    else:
        x = inputs
        if architecture == "compact_lower":
            x = layers.Cropping2D(lower_face_cropping(input_size), name=LOWER_FACE_LAYER)(x)
        x = _preprocessing(x, resolution)
        x = backbones[architecture](x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fake_probability", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=architecture)
    _set_fixed_layers(model)
    return model


# The variants that take new inputs beside a plain network's: architecture -> (the layer that takes them, how many
# there are, whether they come before the plain network's inputs rather than after). A plain network's checkpoint
# starts such a variant with zeros for them (``initial_weights``).
NEW_INPUTS: dict[str, tuple[str, int, bool]] = {
    "compact_high_pass": ("stem_conv1", len(_HIGH_PASS_KERNELS) * 3, False),
    "compact_spectrum": ("fake_probability", SPECTRUM_FEATURES, False),
    "compact_two_view": ("fake_probability", _COMPACT_WIDE_STAGES[-1][0], True),
}


def _set_fixed_layers(model: keras.Model) -> None:
    for layer in model.layers:
        if layer.name in FIXED_KERNELS:
            layer.set_weights([FIXED_KERNELS[layer.name]()])


def average_of(members: dict[str, keras.Model]) -> keras.Model:
    """One model whose output is the mean of ``members``' fake probabilities (name -> trained model).

    Each member keeps its own preprocessing inside and becomes a nested model named after it, so a saved file
    holds them all and scoring code sees one model. The average takes the largest member's input; a member that
    was trained on smaller crops gets them through an area resize in front of it, the resize its training crops
    were decoded with (``cv2.INTER_AREA``; a mixed run decodes every source straight to 128 px).
    """
    if len(members) < 2:
        raise ValueError(f"an average needs at least two models, got {len(members)}")
    shapes = {model.input_shape[1:] for model in members.values()}
    if any(len(shape) != 3 or shape[0] != shape[1] or shape[2] != 3 for shape in shapes):
        raise ValueError(f"members must take square RGB crops, got {sorted(map(str, shapes))}")
    side = max(shape[0] for shape in shapes)
    inputs = keras.Input((side, side, 3), name="face")
    outputs = []
    for name, model in members.items():
        member = keras.Model(model.input, model.output, name=name)
        if model.input_shape[1] != side:
            small = model.input_shape[1]
            resize = layers.Resizing(small, small, interpolation="area", name=f"{name}_resize")
            member_input = keras.Input((side, side, 3))
            member = keras.Model(member_input, member(resize(member_input)), name=name)
        outputs.append(member(inputs))
    return keras.Model(inputs, layers.Average(name=weight_storage.AVERAGE_LAYER)(outputs), name="average")


def model_precision(model: keras.Model) -> str:
    """The dtype policy a classifier from ``build_classifier`` computes with: its layers', which the
    saved file keeps (read from the preprocessing layer, since the output layer is float32 under every policy)."""
    return model.get_layer("scale").dtype_policy.name


def float32_copy(model: keras.Model, architecture: str, input_size: int, resolution: int) -> keras.Model:
    """The classifier ``build_classifier`` makes of these arguments, computing in float32, with ``model``'s
    weights (which a mixed-precision model keeps in float32). What ships: bfloat16 arithmetic is fast only on
    CPUs with AVX512_BF16 or AMX, and a host without them would score several times slower or fall back to
    emulation."""
    with dtype_policy("float32"):
        copy = build_classifier(architecture, input_size, resolution)
    copy.set_weights(model.get_weights())
    return copy


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers built inside use the Keras dtype policy ``name``; the previous global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
