"""Self-blended images (SBI): training fakes made from one real face blended with a changed copy of itself.

After Shiohara and Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022. A face swap leaves
generic traces where the inserted face meets the frame: a colour or sharpness mismatch, a slightly misaligned face,
a blending boundary. SBI makes exactly those traces and nothing else, from a real crop and its face mesh:

1. the *source* is a copy of the *target* (the same real crop) with a random colour change (RGB shift, hue,
   saturation, brightness, contrast), sometimes a frequency change (blur, sharpening or downscale-upscale), and a
   small random scaling and translation;
2. the *mask* is the convex hull of the face mesh, its outline randomly bent and scaled per axis,
   eroded or dilated, moved with the source, blurred into a soft edge and scaled by a random blend ratio;
3. the fake is ``mask * source + (1 - mask) * target``.

A *regional* self-blend (``region``: ``BLEND_REGIONS``) takes the mask from the hull of one part of the mesh only:
the mouth, the lower face or the eyes. Expression reenactment (Face2Face, NeuralTextures) re-renders only such a
part, so its traces are a blend boundary inside the face, not around it; these fakes teach that, without the
reenactment proxies' expression warp (``reenactment``), which stays out of training so that the benchmark's
figure on it still measures generalisation.

Every function takes and returns NumPy arrays and draws its randomness from the ``numpy.random.Generator`` it is
given, so a seeded call is repeatable. Sizes are fractions of the crop side, so they hold at any crop size.
See docs/DESIGN.md, "Self-blended training fakes (SBI)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import numpy as np

from detector.training.landmarks import checked_crop_and_mesh, hull_mask
from detector.training.reenactment import JAW, NOSE_BASE, OUTER_LIPS

# MediaPipe face-mesh indices around each eye and its brow (the subject's right, then left).
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246, 70, 63, 105, 66, 107)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466, 300, 293, 334, 296, 336)
EYES = (*RIGHT_EYE, *LEFT_EYE)
# The mesh points whose hull is a regional self-blend's mask.
BLEND_REGIONS = {
    "mouth": OUTER_LIPS,
    "lower_face": (*JAW, NOSE_BASE, *OUTER_LIPS),
    "eyes": EYES,
}


@dataclass(frozen=True)
class SelfBlendConfig:
    """The random ranges of the self-blend. Fractions are of the crop side.

    ``scale_range`` and ``max_translation`` move the source (and the mask with it); ``rgb_shift`` (0-255 units),
    ``hue_shift`` (degrees), ``saturation``, ``brightness`` (fraction of 255) and ``contrast`` bound the colour
    change (``saturation`` and ``contrast`` are factors within ``1 +- value``); with ``frequency_probability`` one
    of blur (sigma ``blur_sigma``, pixels at 224 px, scaled with the crop), sharpening (amount ``sharpen``) or
    downscale-upscale (``downscale``) follows. The mask outline is bent radially by up to ``deformation`` of the
    mask's diameter and scaled per axis within ``1 +- mask_scale``; the mask is eroded or dilated by up to
    ``morphology``, blurred with a Gaussian whose sigma is drawn from ``mask_blur``, and multiplied by a ratio
    drawn from ``blend_ratios``.
    """

    scale_range: tuple[float, float] = (0.95, 1.05)
    max_translation: float = 0.03
    rgb_shift: float = 20.0
    hue_shift: float = 10.0
    saturation: float = 0.2
    brightness: float = 0.1
    contrast: float = 0.1
    frequency_probability: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    sharpen: tuple[float, float] = (0.3, 1.0)
    downscale: tuple[float, float] = (0.5, 0.8)
    deformation: float = 0.03
    mask_scale: float = 0.05
    morphology: float = 0.04
    mask_blur: tuple[float, float] = (0.01, 0.04)
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            values = value if isinstance(value, tuple) else (value,)
            if not values or not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"{field.name} must be non-negative finite number(s), got {value}")
            if isinstance(value, tuple) and field.name != "blend_ratios" and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f"{field.name} must be a (low, high) range, got {value}")
        if self.scale_range[0] <= 0:
            raise ValueError(f"scale_range must be positive, got {self.scale_range}")
        if not all(ratio <= 1 for ratio in self.blend_ratios):
            raise ValueError(f"blend_ratios must be in [0, 1], got {self.blend_ratios}")
        if self.frequency_probability > 1 or self.saturation >= 1 or self.contrast >= 1 or self.mask_scale >= 1:
            raise ValueError("frequency_probability must be at most 1; saturation, contrast, mask_scale below 1")
        if not 0 < self.downscale[0] <= self.downscale[1] <= 1:
            raise ValueError(f"downscale must be within (0, 1], got {self.downscale}")


DEFAULT_CONFIG = SelfBlendConfig()
# A regional blend's ranges: a milder colour change (a re-rendered mouth keeps the skin's colour; the default's hue
# turned lips green), a more frequent blur, sharpening or resampling (the trace re-rendering leaves), and erosion and
# edge softness small enough for a mouth that spans a tenth of the crop.
REGION_CONFIG = SelfBlendConfig(
    rgb_shift=8.0,
    hue_shift=4.0,
    saturation=0.1,
    brightness=0.05,
    contrast=0.05,
    frequency_probability=0.7,
    morphology=0.01,
    mask_blur=(0.005, 0.02),
)
# The blur and sharpening sigmas are stated for this crop side and scaled with the actual one.
REFERENCE_SIDE = 224


def color_perturbation(image: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """``(S, S, 3) uint8 RGB`` with a random RGB shift, hue, saturation, brightness and contrast change."""
    pixels = image.astype(np.float32) + rng.uniform(-config.rgb_shift, config.rgb_shift, size=3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(pixels / 255.0, 0.0, 1.0), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-config.hue_shift, config.hue_shift)) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1 - config.saturation, 1 + config.saturation), 0.0, 1.0)
    pixels = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    mean = float(pixels.mean())
    contrast = rng.uniform(1 - config.contrast, 1 + config.contrast)
    brightness = rng.uniform(-config.brightness, config.brightness) * 255.0
    pixels = (pixels - mean) * contrast + mean + brightness
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def frequency_perturbation(image: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """``(S, S, 3) uint8 RGB`` blurred, sharpened or downscaled and upscaled back (one, chosen at random)."""
    side = image.shape[0]
    choice = int(rng.integers(3))
    if choice == 0:
        sigma = rng.uniform(*config.blur_sigma) * side / REFERENCE_SIDE
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    if choice == 1:
        amount = rng.uniform(*config.sharpen)
        blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=side / REFERENCE_SIDE).astype(np.float32)
        sharpened = image.astype(np.float32) * (1 + amount) - blurred * amount
        return np.clip(np.rint(sharpened), 0, 255).astype(np.uint8)
    small_side = max(4, round(side * rng.uniform(*config.downscale)))
    small = cv2.resize(image, (small_side, small_side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)


def random_affine(
    center: tuple[float, float], side: int, rng: np.random.Generator, config: SelfBlendConfig
) -> np.ndarray:
    """A ``(2, 3) float32`` affine matrix: scaling about ``center`` and a translation, both random."""
    scale = rng.uniform(*config.scale_range)
    shift_x, shift_y = rng.uniform(-config.max_translation, config.max_translation, size=2) * side
    center_x, center_y = center
    return np.array(
        [[scale, 0.0, center_x * (1 - scale) + shift_x], [0.0, scale, center_y * (1 - scale) + shift_y]],
        np.float32,
    )


def deform_outline(outline: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """A closed outline ``(M, 2) float32`` bent by a smooth random radial offset and scaled per axis.

    ``outline`` is ``(K, 2)`` (x, y) in order around a shape (e.g. its convex hull). It is resampled every two
    pixels, then each point moves along the ray from the outline's centre by a random sum of harmonics 2-5 of its
    angle (at most ``config.deformation`` of the outline's diameter), and the whole is scaled per axis about
    the centre within ``1 +- config.mask_scale``. A smooth field bends the outline without tearing it.
    """
    closed = np.concatenate([outline, outline[:1]]).astype(np.float64)
    segments = np.diff(closed, axis=0)
    lengths = np.hypot(segments[:, 0], segments[:, 1])
    distance = np.concatenate([[0.0], np.cumsum(lengths)])
    samples = np.arange(0.0, distance[-1], 2.0) if distance[-1] > 0 else np.zeros(1)
    points = np.stack([np.interp(samples, distance, closed[:, 0]), np.interp(samples, distance, closed[:, 1])], 1)
    center = points.mean(axis=0)
    relative = points - center
    radius = np.hypot(relative[:, 0], relative[:, 1])
    angle = np.arctan2(relative[:, 1], relative[:, 0])
    harmonics = np.arange(2, 6)
    amplitude = rng.uniform(0.0, config.deformation) * 2.0 * max(radius.max(), 1.0)
    weights = rng.uniform(-1.0, 1.0, size=(2, len(harmonics))) / harmonics
    wave = np.cos(np.outer(angle, harmonics)) @ weights[0] + np.sin(np.outer(angle, harmonics)) @ weights[1]
    wave /= max(float(np.abs(weights).sum()), 1e-6)
    direction = relative / np.maximum(radius, 1e-6)[:, None]
    moved = relative + direction * (amplitude * wave)[:, None]
    scale = rng.uniform(1 - config.mask_scale, 1 + config.mask_scale, size=2)
    return (center + moved * scale).astype(np.float32)


def erode_or_dilate(mask: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """A ``(S, S) uint8`` 0/1 mask eroded or dilated by a random radius up to ``config.morphology`` of the side.

    An erosion that would empty the mask is skipped: an empty mask would make a "fake" identical to the real.
    """
    limit = round(config.morphology * mask.shape[0])
    radius = int(rng.integers(-limit, limit + 1)) if limit else 0
    if radius == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    changed = cv2.dilate(mask, kernel) if radius > 0 else cv2.erode(mask, kernel)
    return changed if changed.any() else mask


def soften(mask: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """The 0/1 mask blurred into ``(S, S) float32`` in [0, 1] by a Gaussian of random sigma.

    The kernel is cut at three sigmas, so the mask stays exactly 0 further than that from the hard mask.
    """
    sigma = rng.uniform(*config.mask_blur) * mask.shape[0]
    if sigma <= 0:
        return mask.astype(np.float32)
    kernel_size = 2 * math.ceil(3 * sigma) + 1
    soft = cv2.GaussianBlur(mask.astype(np.float32), (kernel_size, kernel_size), sigmaX=sigma, sigmaY=sigma)
    # The kernel's weights sum to 1 only to float precision: keep the core exactly 1 (the source, unmixed).
    soft[soft > 1.0 - 1e-5] = 1.0
    return soft


def blend_mask(
    landmarks: np.ndarray, side: int, rng: np.random.Generator, config: SelfBlendConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """The hard blending mask ``(side, side) uint8`` 0/1: the mesh's hull, deformed, eroded or dilated.

    ``landmarks`` is ``(N, 2)`` (x, y) crop pixels. Raises ``ValueError`` when the hull misses the crop.
    """
    mask = hull_mask(landmarks, side)
    if not mask.any():
        raise ValueError("the landmarks' hull does not cover any pixel of the crop")
    hull = cv2.convexHull(np.asarray(landmarks, np.float32)).reshape(-1, 2)
    deformed = np.zeros_like(mask)
    cv2.fillPoly(deformed, [np.round(deform_outline(hull, rng, config)).astype(np.int32)], 1)
    if deformed.any():
        mask = deformed
    return erode_or_dilate(mask, rng, config)


def self_blend_with_mask(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    config: SelfBlendConfig = DEFAULT_CONFIG,
    region: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The self-blended fake ``(S, S, 3) uint8 RGB`` and the soft mask it was blended with, ``(S, S) float32``.

    ``image`` is a square real face crop ``(S, S, 3) uint8 RGB``; ``landmarks`` its face mesh ``(N, 2)`` (x, y)
    crop pixels (any dtype, e.g. the float16 of ``precompute_landmarks``). The mask (blend ratio included) is in
    [0, 1]; where it is 0 the fake equals ``image`` exactly. With ``region`` (a key of ``BLEND_REGIONS``) the mask
    covers that part of the face only.
    """
    points = checked_crop_and_mesh(image, landmarks)
    if region is not None:
        if region not in BLEND_REGIONS:
            raise ValueError(f"region must be one of {tuple(BLEND_REGIONS)}, got {region!r}")
        points = points[list(BLEND_REGIONS[region])]
    side = image.shape[0]
    source = color_perturbation(image, rng, config)
    if rng.random() < config.frequency_probability:
        source = frequency_perturbation(source, rng, config)
    hard = blend_mask(points, side, rng, config)
    center_x, center_y = np.clip(points.mean(axis=0), 0, side - 1)
    affine = random_affine((float(center_x), float(center_y)), side, rng, config)
    source = cv2.warpAffine(source, affine, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    moved = cv2.warpAffine(hard.astype(np.float32), affine, (side, side), flags=cv2.INTER_LINEAR, borderValue=0.0)
    if moved.max() >= 0.5:
        hard = (moved >= 0.5).astype(np.uint8)
    ratio = float(rng.choice(np.asarray(config.blend_ratios, np.float64)))
    mask = soften(hard, rng, config) * np.float32(ratio)
    weight = mask[..., np.newaxis]
    blended = weight * source.astype(np.float32) + (1.0 - weight) * image.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    config: SelfBlendConfig = DEFAULT_CONFIG,
    region: str | None = None,
) -> np.ndarray:
    """A self-blended fake ``(S, S, 3) uint8 RGB`` of a real crop and its mesh: see ``self_blend_with_mask``."""
    return self_blend_with_mask(image, landmarks, rng, config, region)[0]
