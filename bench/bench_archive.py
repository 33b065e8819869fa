"""Clips per minute: the plain `scan` loop, and `scan-archive` on Ray with 1 and 2 workers, on the same clips.

    python bench/bench_archive.py [--copies 2] [--frames 32] [--model NAME]

The clips are the sample clips, each remuxed ``--copies`` times with a different title (the same pictures, other
bytes, so that the archive scan analyses every copy instead of recognising it). Each measurement scans all of them
warm: the models are loaded before the clock starts (Ray's start and the workers' model loading are printed
apart, as "startup"). Run it with both cores free. Prints the per-core throughput and what it means for a
10,000-clip archive on N machines of K cores.
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


def remux_copies(videos: list[Path], copies: int, folder: Path) -> list[Path]:
    """Each clip ``copies`` times, remuxed (no re-encoding) with its own title: distinct bytes, same pictures."""
    import av

    made = []
    for video in videos:
        for number in range(copies):
            out = folder / f"{video.stem}-{number}{video.suffix}"
            with av.open(str(video)) as source, av.open(str(out), "w") as target:
                target.metadata["title"] = f"{video.stem} copy {number}"
                streams = {}
                for stream in source.streams:
                    if stream.type in ("video", "audio"):
                        streams[stream.index] = target.add_stream_from_template(stream)
                for packet in source.demux():
                    if packet.stream.index in streams and packet.dts is not None:
                        packet.stream = streams[packet.stream.index]
                        target.mux(packet)
            made.append(out)
    return made


def plain_scan(paths: list[Path], models: list[str], frames: int) -> tuple[float, float]:
    """The `scan` command's loop in this process (all cores): load time and clips a minute."""
    from detector.analysis import pipeline
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig

    started = time.perf_counter()
    config = AnalysisConfig(frames_to_sample=frames)
    scorer = load_scorer(models)
    with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
        pipeline.analyze(paths[0], scorer, config, detector)  # warm-up, as the page and the workers are
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        for path in paths:
            pipeline.analyze(path, scorer, config, detector)
        seconds = time.perf_counter() - started
    return loaded, 60.0 * len(paths) / seconds


def plain_scan_one_core(paths: list[Path], models: list[str], frames: int) -> float:
    """The same loop in a process of its own, on one core and one thread as a Ray worker is: clips a minute."""
    import subprocess

    command = [sys.executable, __file__, "--one-core-loop", "--frames", str(frames)]
    command += [argument for model in models for argument in ("--model", model)]
    ran = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=True)
    return float(ran.stdout.strip().splitlines()[-1])


def archive_scan(paths: list[Path], models: list[str], frames: int, workers: int, results: Path):
    from detector.archive import engine, rows
    from detector.archive.store import ResultsStore
    from detector.config import AnalysisConfig
    from detector.models import model_card

    config = AnalysisConfig(frames_to_sample=frames)
    cards = [model_card.read_card(name) for name in models]
    settings = rows.settings_fingerprint(cards, cards[0].thresholds, config)
    store = ResultsStore(results)
    todo = engine.plan(paths, store, settings, models)
    return engine.run(todo, store, config, settings, models, workers=workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--copies", type=int, default=2, help="remuxed copies of each clip")
    parser.add_argument("--one-core-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("videos", nargs="*", help="clips (default: ../shared/samples/videos/*.mp4)")
    arguments = parser.parse_args()
    if arguments.one_core_loop:
        from detector.archive.worker import limit_threads

        # On one core, as a Ray worker of a scan that started its own Ray keeps to one.
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        limit_threads(1)
        print(plain_scan([Path(video) for video in arguments.videos], arguments.models, arguments.frames)[1])
        return 0
    videos = [Path(video) for video in arguments.videos] or sorted(SAMPLES.glob("*.mp4"))
    if not videos:
        print(f"no clips given and none found in {SAMPLES}", file=sys.stderr)
        return 1
    from detector.models import model_card

    models = arguments.models or [model_card.default_model()]
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as folder:
        paths = remux_copies(videos, arguments.copies, Path(folder))
        print(
            f"{len(paths)} clips ({len(videos)} sample clips x {arguments.copies}), model(s) {', '.join(models)}, "
            f"{arguments.frames} frames each, {os.cpu_count()} cores"
        )
        loaded, plain = plain_scan(paths, models, arguments.frames)
        print(f"scan loop, one process, all cores: {plain:.1f} clips/min (load {loaded:.1f} s)")
        one_core = plain_scan_one_core(paths, models, arguments.frames)
        print(f"scan loop, one process on one core: {one_core:.1f} clips/min")
        measured = {}
        for workers in (1, 2):
            summary = archive_scan(paths, models, arguments.frames, workers, Path(folder) / f"results-{workers}")
            measured[workers] = summary.clips_per_minute
            print(
                f"scan-archive, {workers} worker(s): {summary.clips_per_minute:.1f} clips/min "
                f"(startup {summary.startup_seconds:.1f} s: Ray and the workers' models; driver "
                f"{summary.driver_cpu_seconds:.1f} s of processor time; {summary.failed} failed)"
            )
    per_core = measured[2] / 2
    print(f"2 workers / 1 worker: {measured[2] / measured[1]:.2f}x; per core (2 workers): {per_core:.1f} clips/min")
    print(f"Ray against the plain loop on all cores: {measured[2] / plain:.2f}x the throughput")
    overhead = 60.0 / measured[1] - 60.0 / one_core
    print(f"Ray's cost a clip (1 worker against the loop on one core): {overhead:+.2f} s")
    for machines, cores in ((1, 2), (1, 8), (4, 8), (16, 16)):
        minutes = 10_000 / (per_core * machines * cores)
        shown = f"{minutes / 60:.1f} h" if minutes >= 60 else f"{minutes:.0f} min"
        print(f"10,000 clips on {machines} machine(s) of {cores} cores: about {shown} (the per-core rate above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
