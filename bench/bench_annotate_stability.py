"""Cost of the annotated video and of the stability check, per sample clip.

``python bench/bench_annotate_stability.py [--model NAME] [--models-folder DIR] [clips...]``

Prints, per clip: its size and length, the analysis time, the annotated video in its own mode (every frame for
clips up to 60 s) and as a slideshow of the sampled frames, with the output's size in bytes, and the stability
check (the copy's size and the whole check, re-encoding and re-analysis). Warm: the model and face detector are
loaded once, as in the page. Numbers go in docs/DESIGN.md, "Annotated video" and "Stability check".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "videos"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--models-folder", help="folder of models and cards (default: models/)")
    parser.add_argument("videos", nargs="*", help="clips (default: ../shared/samples/videos/*.mp4)")
    arguments = parser.parse_args()
    videos = [Path(v) for v in arguments.videos] or sorted(SAMPLES.glob("*.mp4"))
    if not videos:
        print(f"no clips given and none found in {SAMPLES}", file=sys.stderr)
        return 1

    from detector.analysis import pipeline
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.outputs import annotate, stability

    folder = Path(arguments.models_folder) if arguments.models_folder else None
    scorer = load_scorer(arguments.models, folder)
    config = AnalysisConfig()
    with (
        FaceDetector(config.detector_model, config.min_face_confidence) as detector,
        tempfile.TemporaryDirectory() as out,
    ):
        pipeline.analyze(videos[0], scorer, config, detector)  # warm-up
        for path in videos:
            started = time.perf_counter()
            result = pipeline.analyze(path, scorer, config, detector)
            analysed = time.perf_counter() - started
            info = result.info
            line = f"{path.name}: {info.width}x{info.height} {info.duration_seconds:.1f} s, analysis {analysed:.2f} s"
            mode = annotate.annotation_mode(info)
            started = time.perf_counter()
            own = annotate.write_annotated(path, result, Path(out) / "own.mp4")
            line += f"; annotated ({mode}) {time.perf_counter() - started:.2f} s, {own.stat().st_size:,} B"
            limit = annotate.MAX_EVERY_FRAME_SECONDS
            annotate.MAX_EVERY_FRAME_SECONDS = -1.0  # every clip as a slideshow
            try:
                started = time.perf_counter()
                slides = annotate.write_annotated(path, result, Path(out) / "slides.mp4")
                line += f"; slideshow {time.perf_counter() - started:.2f} s, {slides.stat().st_size:,} B"
            finally:
                annotate.MAX_EVERY_FRAME_SECONDS = limit
            if stability.can_check(result):
                checked = stability.check_stability(path, result, scorer, config, detector)
                line += (
                    f"; stability {checked.seconds:.2f} s at {checked.copy_width}x{checked.copy_height}: "
                    f"{checked.original_label.value} -> {checked.reencoded_label.value}"
                )
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
