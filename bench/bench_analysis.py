"""Speed and memory of a full analysis, per sample clip: `python bench/bench_analysis.py [--model NAME]`.

Prints, for the process: cold start (imports + model and detector load) and peak resident memory; per clip: the
time to decode every frame with PyAV (the yardstick), to decode the sampled frames alone, the full analysis time
and its ratio to the yardstick, warm (after one analysis has run, as in the
app, where the model and detector are cached). Numbers go in the README's benchmark table.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "videos"


def peak_megabytes() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def decode_whole_clip(path: Path) -> int:
    """Every frame of the clip decoded with PyAV (frame threads, as the analysis decodes): the yardstick an analysis
    is measured against. Returns the number of frames."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=["auto", "keras"],
        help="auto: the models' TensorFlow Lite copies where they have one; keras: always Keras (as before them)",
    )
    parser.add_argument("videos", nargs="*", help="clips (default: ../shared/samples/videos/*.mp4)")
    arguments = parser.parse_args()
    videos = [Path(v) for v in arguments.videos] or sorted(SAMPLES.glob("*.mp4"))
    if not videos:
        print(f"no clips given and none found in {SAMPLES}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    from detector.analysis import pipeline, video
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig

    config = AnalysisConfig(frames_to_sample=arguments.frames)
    scorer = load_scorer(arguments.models, runtime=arguments.runtime)
    detector = FaceDetector(config.detector_model, config.min_face_confidence)
    cold_start = time.perf_counter() - started
    runtime = "TensorFlow Lite" if all(member.lite for member in scorer.scorers) else "Keras"
    print(f"model(s): {', '.join(scorer.names)} ({runtime}); frames sampled: {config.frames_to_sample}")
    memory = peak_megabytes()
    print(f"cold start (imports + model + face detector): {cold_start:.2f} s; memory after it {memory:.0f} MB")

    pipeline.analyze(videos[0], scorer, config, detector)  # warm-up: first calls trace the model
    header = (
        f"{'clip':<18} {'size':>10} {'all frames (s)':>14} {'sampled (s)':>11} {'analysis (s)':>13} {'ratio':>6} "
        f"{'scoring (s)':>12} {'faces':>6} {'verdict':<20}"
    )
    print(header)
    print("-" * len(header))
    for path in videos:
        whole_times, decode_times, analysis_times, scoring_times = [], [], [], []
        for _ in range(arguments.repeats):
            tick = time.perf_counter()
            decode_whole_clip(path)
            whole_times.append(time.perf_counter() - tick)
            tick = time.perf_counter()
            info = video.probe(path, config)
            frames = sum(1 for _ in video.iter_frames(path, info, video.sample_indices(info, config), config))
            decode_times.append(time.perf_counter() - tick)
            tick = time.perf_counter()
            result = pipeline.analyze(path, scorer, config, detector)
            analysis_times.append(time.perf_counter() - tick)
            scoring_times.append(result.timings_seconds["score"])
        probability = result.verdict.fake_probability
        verdict = f"{result.verdict.label.value} {'' if probability is None else f'{probability:.2f}'}"
        size = f"{info.width}x{info.height}"
        whole, analysis = statistics.median(whole_times), statistics.median(analysis_times)
        print(
            f"{path.name:<18} {size:>10} {whole:>14.2f} {statistics.median(decode_times):>11.2f} "
            f"{analysis:>13.2f} {analysis / whole:>6.2f} {statistics.median(scoring_times):>12.2f} "
            f"{len(result.face_scores):>6} {verdict:<20}"
            f"({frames} frames)"
        )
    detector.close()
    print(f"peak memory (whole process): {peak_megabytes():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
