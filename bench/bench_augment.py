"""Cost of each training augmentation: `python bench/bench_augment.py [--count 500]`.

Prints, on DFDC crops (224 px), the time per image of each augmentation applied alone, then of the default
``AugmentationPolicy`` as training applies it (each augmentation with its own probability). Numbers go in
docs/DESIGN.md ("Training augmentation"). Run it while nothing else trains for clean numbers, and say so when
something does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from detector.training import augment, datasets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="crops to time")
    arguments = parser.parse_args()
    crops = datasets.load_dfdc_faces()
    images = datasets.decode_images(crops.root, crops.files[: arguments.count], 224)
    print(f"{len(images)} DFDC crops, 224 px; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    transforms = {
        "horizontal flip": lambda image, rng: augment.horizontal_flip(image),
        "reframing": augment.reframe,
        "colour jitter": augment.color_jitter,
        "colour cast": augment.color_cast,
        "Gaussian blur": augment.gaussian_blur,
        "downscale-upscale": augment.downscale_upscale,
        "JPEG re-compression": augment.jpeg_recompress,
        "H.264 intra-frame re-compression": augment.h264_recompress,
    }
    policy = augment.AugmentationPolicy()
    transforms[f"default policy ({policy.describe()})"] = policy.apply
    for name, transform in transforms.items():
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for image in images:
            transform(image, rng)
        print(f"{(time.perf_counter() - start) / len(images) * 1000:7.2f} ms/image  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
