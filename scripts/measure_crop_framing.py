"""Measures how the training face crops are framed relative to our face detector's box.

For each sampled crop (a square image of one face), the detector runs on the crop placed in the middle of a black
canvas ``--canvas`` times its size (BlazeFace misses faces that fill the whole image, see docs/DESIGN.md); the
largest face found is taken as the crop's face. Printed per data set:

- detection rate on the bare crop and on the padded crop;
- margin factor = crop side / detected box size (``FaceBox.size``): median, quartiles, 5th/95th percentiles;
- offset of the box centre from the crop centre, in box sizes (x right, y down): median and quartiles.

A crop made by ``cropping.crop_face`` with ``margin`` = the median factor and ``center_shift`` = -(median y
offset) frames faces as the training crops do.

``--self-check`` first checks the method itself: it crops the sample clips' faces with known margins through
``cropping.crop_face`` and measures them the same way, so the bias of the measurement is printed beside it.

Run from the repository root::

    python -m scripts.measure_crop_framing --limit 2000 --seed 0 --self-check
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.analysis import cropping, video
from detector.analysis.faces import FaceDetector
from detector.config import AnalysisConfig

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE_VIDEOS = SHARED / "samples" / "videos"
DATASETS = {
    "dfdc-faces": SHARED / "data" / "dfdc-faces" / "faces",
    "utkface": SHARED / "data" / "utkface" / "faces",
    "dfdc-extra-fakes": SHARED / "data" / "dfdc-extra-fakes" / "faces",
    "ffpp-faces": SHARED / "data" / "ffpp-faces" / "faces",
}


@dataclass(frozen=True)
class Framing:
    """Where the detector put the face in one crop."""

    margin: float
    offset_x: float
    offset_y: float
    aspect: float
    faces_found: int
    found_bare: bool


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def measure_one(crop: np.ndarray, detector: FaceDetector, canvas_factor: float) -> Framing | None:
    """The framing of one square crop ``(S, S, 3) uint8 RGB``, or None when no face is found."""
    height, width = crop.shape[:2]
    found_bare = bool(detector.detect(crop))
    pad_y = round(height * (canvas_factor - 1.0) / 2.0)
    pad_x = round(width * (canvas_factor - 1.0) / 2.0)
    canvas = cv2.copyMakeBorder(crop, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    faces = detector.detect(canvas)
    if not faces:
        return None
    face = faces[0]
    center_x, center_y = face.center
    return Framing(
        margin=max(height, width) / face.size,
        offset_x=(center_x - pad_x - width / 2.0) / face.size,
        offset_y=(center_y - pad_y - height / 2.0) / face.size,
        aspect=face.height / face.width,
        faces_found=len(faces),
        found_bare=found_bare,
    )


def summarize(name: str, sampled: int, framings: list[Framing]) -> str:
    if not framings:
        return f"{name}: no face found in any of {sampled} crops"
    margins = np.array([f.margin for f in framings])
    offsets_x = np.array([f.offset_x for f in framings])
    offsets_y = np.array([f.offset_y for f in framings])
    bare = sum(f.found_bare for f in framings)
    multiple = sum(f.faces_found > 1 for f in framings)

    def quartiles(values: np.ndarray) -> str:
        q25, q50, q75 = np.percentile(values, [25, 50, 75])
        return f"median {q50:+.3f}  IQR [{q25:+.3f}, {q75:+.3f}]"

    p5, p95 = np.percentile(margins, [5, 95])
    return "\n".join(
        [
            f"{name}: {sampled} crops sampled",
            f"  detected in padded crop: {len(framings)}/{sampled} = {len(framings) / sampled:.1%}"
            f"  (in the bare crop: {bare}/{sampled} = {bare / sampled:.1%}; more than one face: {multiple})",
            f"  margin factor (crop side / box size): {quartiles(margins)}  P5-P95 [{p5:.3f}, {p95:.3f}]",
            f"  box centre offset x (box sizes, + right): {quartiles(offsets_x)}",
            f"  box centre offset y (box sizes, + down):  {quartiles(offsets_y)}",
            f"  box aspect (height / width): median {np.median([f.aspect for f in framings]):.3f}",
        ]
    )


def self_check(detector: FaceDetector, canvas_factor: float, margins: tuple[float, ...], frames: int) -> None:
    """Measures crops of known framing (the sample clips' largest faces cut by ``crop_face``)."""
    clips = sorted(SAMPLE_VIDEOS.glob("*.mp4"))
    if not clips:
        print(f"self-check: no clips in {SAMPLE_VIDEOS}, skipped")
        return
    measured: dict[float, list[Framing]] = {margin: [] for margin in margins}
    for path in clips:
        _, sampled = video.sample_frames(path, AnalysisConfig(frames_to_sample=frames))
        for frame in sampled:
            found = detector.detect(frame.image)
            if not found:
                continue
            for margin in margins:
                crop = cropping.crop_face(frame.image, found[0], margin, 224)
                if (framing := measure_one(crop, detector, canvas_factor)) is not None:
                    measured[margin].append(framing)
    for margin, framings in measured.items():
        print(summarize(f"self-check: {len(clips)} sample clips cropped with margin {margin}", len(framings), framings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=2000, help="crops sampled per data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="full_range", help="face detector model")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--canvas", type=float, default=3.0, help="canvas side / crop side")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--self-check", action="store_true", help="first measure crops of known margin")
    parser.add_argument("--self-check-frames", type=int, default=16, help="frames per sample clip")
    args = parser.parse_args()
    print(
        f"detector {args.model}, min confidence {args.min_confidence}, canvas {args.canvas}x, "
        f"seed {args.seed}, limit {args.limit}"
    )
    with FaceDetector(args.model, args.min_confidence) as detector:
        if args.self_check:
            self_check(detector, args.canvas, (1.0, 1.3, 1.6), args.self_check_frames)
        for name in args.datasets:
            folder = DATASETS[name]
            files = sorted(folder.glob("*.jpg"))
            if not files:
                print(f"{name}: no images in {folder}, skipped")
                continue
            sample = random.Random(args.seed).sample(files, min(args.limit, len(files)))
            framings = [
                framing
                for path in sample
                if (framing := measure_one(read_rgb(path), detector, args.canvas)) is not None
            ]
            print(summarize(name, len(sample), framings))


if __name__ == "__main__":
    main()
