"""Cost of synthetic training fakes: `python bench/bench_self_blend.py [--count 1000] [--threads 1 2]`.

Prints, on real DFDC crops (and UTKFace photos with --utkface): the face mesh's cost per crop as
``landmarks.precompute_landmarks`` runs it (resize, padding and TFLite invoke; no cache), per interpreter thread
count, with how many crops got no trusted mesh; then ``self_blend`` per crop and ``mouth_transplant`` per call
between random pairs of those crops (a refused pair counts as a call, as the training batches then try the next
donor), with the share refused; then one batch of 32 of each kind with the training augmentation. Numbers go in
docs/DESIGN.md ("Self-blended training fakes"). Run it while nothing else trains for clean numbers, and say so when
something does.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from detector.training import datasets, landmarks, mouth_transplant, self_blend
from detector.training.augment import AugmentationPolicy


def load_reals(count: int, utkface: bool) -> np.ndarray:
    shared = datasets.shared_folder()
    if utkface:
        crops = datasets.load_utkface(shared)
        files = crops.files[:count]
        return datasets.decode_images(crops.root, files, 224)
    root = shared / "data" / "dfdc-faces"
    with (root / "labels.csv").open(newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle) if row["label"] == "REAL"][:count]
    return datasets.decode_images(root / "faces", files, 224)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="crops to time")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="interpreter thread counts")
    parser.add_argument("--utkface", action="store_true", help="UTKFace photos instead of DFDC real crops")
    arguments = parser.parse_args()
    images = load_reals(arguments.count, arguments.utkface)
    print(f"{len(images)} {'UTKFace' if arguments.utkface else 'DFDC real'} crops, 224 px; {os.cpu_count()} cores")
    points = None
    for threads in arguments.threads:
        landmarks.precompute_landmarks(images[:20], num_threads=threads)  # warm-up: model load, first invoke
        start = time.perf_counter()
        points = landmarks.precompute_landmarks(images, num_threads=threads)
        seconds = time.perf_counter() - start
        untrusted = int((~np.isfinite(points).all(axis=(1, 2))).sum())
        print(
            f"face mesh, {threads} thread(s): {seconds / len(images) * 1000:.2f} ms/crop "
            f"({seconds:.1f} s for {len(images)}; {untrusted} without a trusted face)"
        )
    valid = np.flatnonzero(np.isfinite(points).all(axis=(1, 2)))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for index in valid:
        self_blend.self_blend(images[index], points[index], rng)
    print(f"self_blend: {(time.perf_counter() - start) / len(valid) * 1000:.2f} ms/crop")
    refused = 0
    start = time.perf_counter()
    for _ in range(len(valid)):
        target, donor = rng.choice(valid, 2, replace=False)
        region = mouth_transplant.REGIONS[int(rng.integers(len(mouth_transplant.REGIONS)))]
        try:
            mouth_transplant.transplant_with_mask(images[target], points[target], images[donor], points[donor], region)
        except ValueError:
            refused += 1
    print(
        f"mouth_transplant: {(time.perf_counter() - start) / len(valid) * 1000:.2f} ms/call "
        f"({refused / len(valid):.0%} of random pairs refused)"
    )

    from detector.training.run_batches import CropBatches
    from detector.training.self_blend_batches import SelfBlendBatches

    policy = AugmentationPolicy()
    for name, batches in (
        (
            "DFDC-style batch of 32 (CropBatches, augmented)",
            CropBatches(images, np.zeros(len(images)), 32, policy, 0, True),
        ),
        (
            "SBI batch of 32 (16 reals + their 16 self-blends, augmented)",
            SelfBlendBatches(images, points, 32, policy, 0),
        ),
    ):
        count = min(len(batches), 20)
        start = time.perf_counter()
        for index in range(count):
            batches[index]
        print(f"{name}: {(time.perf_counter() - start) / count * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
