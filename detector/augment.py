"""Training augmentation that imitates what uploaded videos go through.

Uploads are re-encoded, rescaled and often soft; a detector that has only seen pristine crops reads compression as
manipulation. Each function takes and returns ``(H, W, 3) uint8 RGB`` and draws its randomness from the
``numpy.random.Generator`` it is given, so a seeded run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def horizontal_flip(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def color_jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 0.15) -> np.ndarray:
    """Random brightness, contrast and saturation, each within ``1 +- strength``."""
    pixels = image.astype(np.float32)
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
    mean = pixels.mean()
    pixels = (pixels - mean) * contrast + mean * brightness
    gray = pixels.mean(axis=2, keepdims=True)
    pixels = gray + (pixels - gray) * saturation
    return np.clip(pixels, 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, rng: np.random.Generator, max_sigma: float = 1.5) -> np.ndarray:
    sigma = float(rng.uniform(0.3, max_sigma))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)


def downscale_upscale(image: np.ndarray, rng: np.random.Generator, min_scale: float = 0.35) -> np.ndarray:
    """Shrinks and enlarges back, as a small face in a low-resolution upload does."""
    height, width = image.shape[:2]
    scale = float(rng.uniform(min_scale, 0.9))
    small = cv2.resize(
        image, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def jpeg_recompress(
    image: np.ndarray, rng: np.random.Generator, quality_range: tuple[int, int] = (30, 90)
) -> np.ndarray:
    """Re-encodes as JPEG: blocking and ringing close to what H.264 at social-media bitrates leaves."""
    quality = int(rng.integers(quality_range[0], quality_range[1] + 1))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class AugmentationPolicy:
    """The probability of each augmentation per image; all zero means no augmentation."""

    flip: float = 0.5
    color: float = 0.5
    blur: float = 0.15
    rescale: float = 0.2
    jpeg: float = 0.3

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} probability must be in [0, 1], got {value}")

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.flip:
            image = horizontal_flip(image)
        if rng.random() < self.color:
            image = color_jitter(image, rng)
        if rng.random() < self.rescale:
            image = downscale_upscale(image, rng)
        if rng.random() < self.blur:
            image = gaussian_blur(image, rng)
        if rng.random() < self.jpeg:
            image = jpeg_recompress(image, rng)
        return image

    def apply_batch(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W, 3) uint8`` in, a new augmented array out."""
        return np.stack([self.apply(image, rng) for image in images])


NO_AUGMENTATION = AugmentationPolicy(flip=0.0, color=0.0, blur=0.0, rescale=0.0, jpeg=0.0)
