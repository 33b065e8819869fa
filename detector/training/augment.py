"""Training augmentation that imitates what uploaded videos go through.

Uploads are re-encoded, rescaled and often soft; a detector that has only seen pristine crops reads compression as
manipulation. Each function takes and returns ``(H, W, 3) uint8 RGB`` and draws its randomness from the
``numpy.random.Generator`` it is given, so a seeded run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction

import av
import cv2
import numpy as np


def horizontal_flip(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def reframe(image: np.ndarray, rng: np.random.Generator, min_side: float = 0.85) -> np.ndarray:
    """Cuts a square of ``min_side`` to all of the side at a random place and resizes it back to the full size.

    The face detector's box, and so the crop's framing, moves a little from frame to frame and from camera to
    camera; FF++'s crops were framed by another detector. Training on one framing per source lets a network learn
    a source's framing, and lets it learn each pool's crops by heart (docs/EXPERIMENTS.md, "Reframed crops").
    """
    height, width = image.shape[:2]
    side = float(rng.uniform(min_side, 1.0))
    cut_height, cut_width = max(8, round(height * side)), max(8, round(width * side))
    top = int(rng.integers(0, height - cut_height + 1))
    left = int(rng.integers(0, width - cut_width + 1))
    cut = image[top : top + cut_height, left : left + cut_width]
    return cv2.resize(cut, (width, height), interpolation=cv2.INTER_LINEAR)


def color_jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 0.15) -> np.ndarray:
    """Random brightness, contrast and saturation, each within ``1 +- strength``."""
    pixels = image.astype(np.float32)
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
    mean = pixels.mean()
    pixels = (pixels - mean) * contrast + mean * brightness
    gray = pixels.mean(axis=2, keepdims=True)
    pixels = gray + (pixels - gray) * saturation
    return np.clip(pixels, 0, 255).astype(np.uint8)


def color_cast(image: np.ndarray, rng: np.random.Generator, gain: float = 0.15, shift: float = 20.0) -> np.ndarray:
    """A colour cast over the whole crop, as a camera's white balance or a photo filter makes: each channel scaled
    within ``1 +- gain`` and shifted within ``+- shift`` (0-255 units), independently.

    A self-blend's fake face differs in colour from the rest of its crop; a real photo with an orange cast or a
    filter differs in colour from other photos, everywhere. Casting reals and fakes alike teaches the first
    without the second (docs/EXPERIMENTS.md, "Which unseen people a mixed network finds more suspicious").
    """
    gains = rng.uniform(1 - gain, 1 + gain, size=3).astype(np.float32)
    shifts = rng.uniform(-shift, shift, size=3).astype(np.float32)
    return np.clip(image.astype(np.float32) * gains + shifts, 0, 255).astype(np.uint8)


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
    """Re-encodes as JPEG: 8x8 blocking and ringing, as still images and MJPEG uploads carry."""
    quality = int(rng.integers(quality_range[0], quality_range[1] + 1))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def h264_recompress(image: np.ndarray, rng: np.random.Generator, crf_range: tuple[int, int] = (23, 40)) -> np.ndarray:
    """Encodes the image as one H.264 intra frame with libx264 and decodes it back.

    This is what platforms do to every uploaded video: 4:2:0 chroma, block transforms and the deblocking filter.
    The constant rate factor runs from a careful encode (23, x264's default) to a heavily squeezed one (40).
    Height and width must be even (4:2:0). One thread each for the encoder and the decoder: left to choose, x264
    cuts the frame into one slice per core, so the artefacts would depend on the machine, and starting threads for
    one small image made a call twice as slow (``bench/bench_augment.py``, 224 px beside two training runs: 21.1 ms
    against 10.9).
    """
    height, width = image.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"H.264 4:2:0 needs even sides, got {width}x{height}")
    crf = int(rng.integers(crf_range[0], crf_range[1] + 1))
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
    encoder.thread_count = 1
    packets = encoder.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
    packets += encoder.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    decoder.thread_count = 1
    frames = [frame for packet in packets for frame in decoder.decode(packet)] + decoder.decode(None)
    return frames[0].to_ndarray(format="rgb24")


_DESCRIPTIONS = {
    "flip": "horizontal flip",
    "reframe": "reframing (a random square of 85-100% of the side)",
    "color": "colour jitter",
    "cast": "colour cast (each channel x(1 +- 0.15) + (+-20))",
    "blur": "Gaussian blur",
    "rescale": "downscale-upscale",
    "jpeg": "JPEG re-compression",
    "h264": "H.264 intra-frame re-compression",
}


@dataclass(frozen=True)
class AugmentationPolicy:
    """The probability of each augmentation per image; all zero means no augmentation."""

    flip: float = 0.5
    color: float = 0.5
    blur: float = 0.15
    rescale: float = 0.2
    jpeg: float = 0.3
    h264: float = 0.15
    # Off unless a run asks for them: the recipes that shipped before they existed stay reproducible.
    reframe: float = 0.0
    cast: float = 0.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} probability must be in [0, 1], got {value}")

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # An augmentation switched off draws no random number, so a policy that turns one off consumes the random
        # stream as the code did before that augmentation existed (a card's recipe stays reproducible).
        if self.flip and rng.random() < self.flip:
            image = horizontal_flip(image)
        if self.reframe and rng.random() < self.reframe:
            image = reframe(image, rng)
        if self.color and rng.random() < self.color:
            image = color_jitter(image, rng)
        if self.cast and rng.random() < self.cast:
            image = color_cast(image, rng)
        if self.rescale and rng.random() < self.rescale:
            image = downscale_upscale(image, rng)
        if self.blur and rng.random() < self.blur:
            image = gaussian_blur(image, rng)
        if self.jpeg and rng.random() < self.jpeg:
            image = jpeg_recompress(image, rng)
        if self.h264 and rng.random() < self.h264:
            image = h264_recompress(image, rng)
        return image

    def describe(self) -> str:
        """For a model card: each augmentation with the share of images it is applied to."""
        applied = [f"{_DESCRIPTIONS[field.name]} {getattr(self, field.name):.0%}" for field in fields(self)]
        return ", ".join(part for part in applied if not part.endswith(" 0%")) or "none"

    def apply_batch(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W, 3) uint8`` in, a new augmented array out."""
        return np.stack([self.apply(image, rng) for image in images])


NO_AUGMENTATION = AugmentationPolicy(flip=0.0, color=0.0, blur=0.0, rescale=0.0, jpeg=0.0, h264=0.0)


def policy_from_text(text: str) -> AugmentationPolicy:
    """Today's default policy with some shares replaced: ``"h264=0"`` or ``"jpeg=0.5,blur=0"`` (names as in
    ``AugmentationPolicy``). Raises ``ValueError`` on an unknown name or a share that is not a number in [0, 1]."""
    names = [field.name for field in fields(AugmentationPolicy)]
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, separator, value = part.strip().partition("=")
        if not separator or name not in names:
            raise ValueError(f"expected NAME=SHARE with NAME one of {', '.join(names)}; got {part.strip()!r}")
        if name in shares:
            raise ValueError(f"{name} is given twice")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a number") from None
    return AugmentationPolicy(**shares)
