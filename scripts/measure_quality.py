"""Measures the input-quality figures that ``detector/quality.py`` thresholds, to calibrate them.

Printed:

- **training faces** (``dfdc-faces/labels.csv``, every row): face size = the crop's original side in the source
  frame (the training crops are framed as large as the detector box, see docs/DESIGN.md "Crop framing");
- **training crops** (``--limit`` random DFDC crops, 224 px JPEG): sharpness, and blockiness of the JPEG crop
  itself (the crops were resized before they were saved, so this is the crop files' JPEG, not the videos');
- **sample clips** (``--frames`` evenly spaced frames each, full-range detector, crops made by the pipeline's
  ``cropping.crop_face`` at ``--margin`` and ``--size``): face size, sharpness, blockiness of the face region in
  the decoded frame, the file's bits per pixel;
- **the sample clips re-encoded** with H.264 at rising ``--crf`` values (the sampled frames only, as a short
  clip, same face boxes): how blockiness and sharpness respond to compression the clips do not have.

Percentiles are P1, P2, P5, P10, P25, P50, P75, P95, P99. Beside each clip and CRF: the share of faces past
the thresholds in force (``quality.QualityThresholds()``). Run from the repository root::

    python -m scripts.measure_quality --limit 600 --seed 0 --frames 16
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from detector.analysis import cropping, quality, video
from detector.analysis.faces import FaceDetector
from detector.config import AnalysisConfig
from detector.models import model_card
from detector.types import FaceBox

SHARED = Path(__file__).resolve().parents[2] / "shared"
DFDC = SHARED / "data" / "dfdc-faces"
SAMPLE_VIDEOS = SHARED / "samples" / "videos"
PERCENTILES = (1, 2, 5, 10, 25, 50, 75, 95, 99)


def describe(name: str, values: Sequence[float], digits: int = 2) -> str:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return f"{name:<48} n=0"
    levels = np.percentile(values, PERCENTILES)
    cells = " ".join(f"P{p}={v:.{digits}f}" for p, v in zip(PERCENTILES, levels, strict=True))
    return f"{name:<48} n={values.size:<5} {cells}"


def training_face_sizes() -> list[float]:
    with (DFDC / "labels.csv").open(newline="") as handle:
        return [max(float(row["original_width"]), float(row["original_height"])) for row in csv.DictReader(handle)]


def training_crops(limit: int, seed: int) -> tuple[list[float], list[float]]:
    files = sorted(path.name for path in (DFDC / "faces").glob("*.jpg"))
    chosen = random.Random(seed).sample(files, min(limit, len(files)))
    sharp, blocky = [], []
    for name in chosen:
        image = cv2.cvtColor(cv2.imread(str(DFDC / "faces" / name)), cv2.COLOR_BGR2RGB)
        sharp.append(quality.sharpness(image))
        blocky.append(quality.blockiness(image))
    return sharp, blocky


def clip_faces(
    path: Path, frames: int, detector: FaceDetector, margin: float, size: int
) -> tuple[list[np.ndarray], list[list[FaceBox]], float]:
    """The sampled frames, the faces big enough to score in each, and the file's bits per pixel."""
    config = AnalysisConfig(frames_to_sample=frames)
    info = video.probe(path, config)
    images, boxes = [], []
    for frame in video.iter_frames(path, info, video.sample_indices(info, config), config):
        found = [box for box in detector.detect(frame.image) if box.size >= config.min_face_size]
        images.append(frame.image)
        boxes.append(found[: config.max_faces_per_frame])
    return images, boxes, quality.bits_per_pixel(info)


def measure(images: list[np.ndarray], boxes: list[list[FaceBox]], margin: float, size: int) -> list:
    return [
        quality.measure_face(image, box, cropping.crop_face(image, box, margin, size))
        for image, found in zip(images, boxes, strict=True)
        for box in found
    ]


def past_thresholds(faces: Sequence[quality.FaceQuality]) -> str:
    limits = quality.QualityThresholds()
    small = np.mean([f.face_pixels < limits.min_face_pixels for f in faces])
    blurry = np.mean([f.sharpness < limits.min_sharpness for f in faces])
    blocky = np.mean([f.blockiness > limits.max_blockiness for f in faces])
    return f"small {small:.0%} blurry {blurry:.0%} blocky {blocky:.0%}"


def reencode(images: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """The frames through H.264 at ``crf`` (yuv420p, medium preset) and back."""
    height, width = images[0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream("libx264", rate=Fraction(10), options={"crf": str(crf)})
            stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
            for image in images:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: stream.height, : stream.width]))
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=600, help="DFDC crops to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=16, help="frames sampled per clip")
    parser.add_argument("--crf", type=int, nargs="*", default=[23, 35, 45, 51], help="H.264 CRF values to try")
    parser.add_argument("--margin", type=float, help="crop margin (default: the default model card's)")
    parser.add_argument("--size", type=int, help="crop side, px (default: the default model card's)")
    args = parser.parse_args(argv)
    preprocessing = model_card.read_card(model_card.default_model()).preprocessing
    args.margin = args.margin or preprocessing.face_margin
    args.size = args.size or preprocessing.input_size

    sizes = training_face_sizes()
    print(describe("training faces: face size px (all labels.csv rows)", sizes, 1))
    sharp, blocky = training_crops(args.limit, args.seed)
    print(describe(f"training crops: sharpness ({args.limit} random, seed {args.seed})", sharp, 1))
    print(describe("training crops: blockiness of the JPEG crop file", blocky, 3))

    margin, size = args.margin, args.size
    print(f"\nsample clips: {args.frames} frames each, crops at margin {margin} and {size} px")
    clips = {}
    with FaceDetector("full_range", 0.5) as detector:
        for path in sorted(SAMPLE_VIDEOS.glob("*.mp4")):
            clips[path.name] = clip_faces(path, args.frames, detector, margin, size)
    everything = []
    for name, (images, boxes, bpp) in clips.items():
        faces = measure(images, boxes, margin, size)
        everything += faces
        print(
            f"{name:<18} {images[0].shape[1]}x{images[0].shape[0]} bpp={bpp:.4f} faces={len(faces):<3} "
            f"size median={np.median([f.face_pixels for f in faces]):.0f} "
            f"sharpness median={np.median([f.sharpness for f in faces]):.1f} "
            f"blockiness median={np.median([f.blockiness for f in faces]):.3f} "
            f"max={np.max([f.blockiness for f in faces]):.3f} | {past_thresholds(faces)}"
        )
    print(describe("all sample-clip faces: face size px", [f.face_pixels for f in everything], 1))
    print(describe("all sample-clip faces: sharpness", [f.sharpness for f in everything], 1))
    print(describe("all sample-clip faces: blockiness (frame region)", [f.blockiness for f in everything], 3))

    print("\nsample clips re-encoded (sampled frames only, same face boxes): median over all faces")
    limits = quality.QualityThresholds()
    for crf in args.crf:
        faces, severe = [], 0
        for images, boxes, _ in clips.values():
            clip = measure(reencode(images, crf), boxes, margin, size)
            severe += np.mean([f.blockiness > limits.max_blockiness for f in clip]) >= limits.severe_share
            faces += clip
        print(
            f"crf {crf:>2}: faces={len(faces)} blockiness P5/P50/P95="
            + "/".join(f"{v:.3f}" for v in np.percentile([f.blockiness for f in faces], (5, 50, 95)))
            + " sharpness P50="
            + f"{np.median([f.sharpness for f in faces]):.1f} | {past_thresholds(faces)}"
            + f" | clips with most faces blocky: {severe} of {len(clips)}"
        )


if __name__ == "__main__":
    main()
