"""Writes real and fake video clips of people no model here was trained on, for ``python -m detector evaluate``.

    python -m scripts.benchmark_clips OUT_FOLDER [--people utkface|dfdc] [--count 60] [--seed 0]
        [--crfs 23 28 38] [--methods face_swap reenactment self_blend] [--seconds 2.4] [--fps 25]

Each chosen person's photo is filmed as a short clip by a slow virtual camera (REAL), and filmed the same way with
its face manipulated by one method (FAKE); H.264 at one of the CRFs (``detector.evaluation.benchmark_clips``).
``OUT_FOLDER/labels.csv`` has ``file,label,group,method,crf,people``; ``labels-fit.csv`` and
``labels-report.csv`` are its two halves by person, one to choose thresholds on and one to report on. Then::

    python -m detector evaluate --videos OUT_FOLDER/labels.csv --model NAME
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from detector.evaluation import benchmark_clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--people", choices=benchmark_clips.PEOPLE, default="utkface", help="whose photos are filmed")
    parser.add_argument("--count", type=int, default=60, help="clips to write (even: half real, half fake)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crfs", type=int, nargs="+", default=[23, 28, 38], help="x264 constant rate factors")
    parser.add_argument("--methods", nargs="+", choices=benchmark_clips.METHODS, default=list(benchmark_clips.METHODS))
    parser.add_argument("--seconds", type=float, default=2.4, help="length of each clip")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--cache", type=Path, default=Path(".cache"), help="folder to cache photos and meshes in")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    try:
        counts = benchmark_clips.write_clips(
            arguments.out,
            people=arguments.people,
            count=arguments.count,
            seed=arguments.seed,
            cache_folder=arguments.cache,
            crfs=tuple(arguments.crfs),
            methods=tuple(arguments.methods),
            seconds=arguments.seconds,
            fps=arguments.fps,
        )
    except ValueError as error:
        parser.error(str(error))
    megabytes = sum(path.stat().st_size for path in arguments.out.glob("*.mp4")) / 1e6
    print(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in counts.items()), f"-> {arguments.out}")
    print(f"{megabytes:.1f} MB of clips in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
