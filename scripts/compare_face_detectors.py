"""Compares the face detector models on the sample clips: detection rate, face sizes, confidence, speed.

For every clip, ``--frames`` evenly spaced frames are decoded (``detector.video``) and each model looks for faces
in each frame. Printed per clip and model: frames with at least one face, faces per frame, the size (larger box
side, pixels) of the largest face (median, min, max), its median confidence, milliseconds per frame, and the
median IoU of the largest face against the first model's where both found one.

Run from the repository root::

    python -m scripts.compare_face_detectors --frames 16
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.analysis import video
from detector.analysis.faces import MODELS, FaceDetector
from detector.config import AnalysisConfig
from detector.types import FaceBox

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "videos"


@dataclass
class ClipResult:
    """One model's detections over one clip's sampled frames."""

    frames: int = 0
    frames_with_face: int = 0
    faces: int = 0
    largest: list[FaceBox | None] = field(default_factory=list)
    seconds: float = 0.0


def run_clip(path: Path, detectors: dict[str, FaceDetector], frame_count: int) -> tuple[str, dict[str, ClipResult]]:
    info, frames = video.sample_frames(path, AnalysisConfig(frames_to_sample=frame_count))
    results = {name: ClipResult() for name in detectors}
    for frame in frames:
        for name, detector in detectors.items():
            started = time.perf_counter()
            faces = detector.detect(frame.image)
            result = results[name]
            result.seconds += time.perf_counter() - started
            result.frames += 1
            result.frames_with_face += bool(faces)
            result.faces += len(faces)
            result.largest.append(faces[0] if faces else None)
    return f"{path.name} ({info.width}x{info.height})", results


def describe(name: str, result: ClipResult, reference: ClipResult) -> str:
    found = [box for box in result.largest if box is not None]
    sizes = np.array([box.size for box in found])
    size_text = (
        f"size median {np.median(sizes):4.0f} [{sizes.min():4.0f}, {sizes.max():4.0f}] px" if found else "size -"
    )
    confidence = f"conf {np.median([box.confidence for box in found]):.2f}" if found else "conf -"
    ious = [a.iou(b) for a, b in zip(result.largest, reference.largest, strict=True) if a and b]
    iou_text = f"IoU vs first {np.median(ious):.2f}" if ious and result is not reference else ""
    return (
        f"  {name:16s} faces in {result.frames_with_face:2d}/{result.frames} frames, "
        f"{result.faces / max(result.frames, 1):.2f}/frame, {size_text}, {confidence}, "
        f"{1000 * result.seconds / max(result.frames, 1):5.1f} ms/frame {iou_text}"
    ).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=16, help="sampled frames per clip")
    parser.add_argument("--models", nargs="+", default=["full_range", "short_range"], choices=list(MODELS))
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--videos", type=Path, default=SAMPLES)
    args = parser.parse_args()
    clips = sorted(args.videos.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no .mp4 clips in {args.videos}")
    detectors = {name: FaceDetector(name, args.min_confidence) for name in args.models}
    totals = {name: ClipResult() for name in args.models}
    try:
        for path in clips:
            title, results = run_clip(path, detectors, args.frames)
            print(title)
            reference = results[args.models[0]]
            for name, result in results.items():
                print(describe(name, result, reference))
                total = totals[name]
                total.frames += result.frames
                total.frames_with_face += result.frames_with_face
                total.faces += result.faces
                total.largest += result.largest
                total.seconds += result.seconds
    finally:
        for detector in detectors.values():
            detector.close()
    print("all clips")
    for name, total in totals.items():
        print(describe(name, total, totals[args.models[0]]))


if __name__ == "__main__":
    main()
