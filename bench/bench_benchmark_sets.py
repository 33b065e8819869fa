"""Cost of writing the benchmark's pair sets: `python bench/bench_benchmark_sets.py [--count 256] [--workers 1 2]`.

Prints, for the first ``--count`` held-out faces with a trusted mesh of each people (``--people``), the seconds
per face of drawing every random choice (one process, in order) and of making and writing the fakes
(``benchmark_sets.write_pairs``) on each number of processes, for face swaps and reenactment proxies, and whether
the sets written on different numbers of processes are the same file for file. Decoded crops and face meshes come
from ``--cache`` (made there the first time, not timed). Numbers go in docs/DESIGN.md ("The generalisation
benchmark"). Run it while nothing else trains for clean numbers, and say so when something does.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from detector.evaluation import benchmark_sets


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=256, help="faces to make of each kind")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="numbers of processes")
    parser.add_argument("--people", nargs="+", default=["utkface"], choices=benchmark_sets.PEOPLE)
    parser.add_argument("--cache", type=Path, default=Path(".cache"), help="decoded crops and face meshes")
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} cores, {benchmark_sets.default_workers()} usable; {arguments.count} faces of each kind")
    for people in arguments.people:
        faces = benchmark_sets.held_out_faces(people, arguments.cache)
        faces = dataclasses.replace(faces, trusted=faces.trusted[: arguments.count])
        for kind, draws in (
            ("face swaps", benchmark_sets.face_swap_draws(people)),
            ("reenactment proxies", benchmark_sets.reenactment_draws),
        ):
            written = []
            for workers in arguments.workers:
                with tempfile.TemporaryDirectory() as folder:
                    start = time.perf_counter()
                    counts = benchmark_sets.write_pairs(Path(folder), faces, 0, draws, workers)
                    seconds = time.perf_counter() - start
                    written.append(folder_bytes(Path(folder)))
                print(
                    f"{people} {kind}, {workers} process(es): {seconds / len(faces.trusted) * 1000:.0f} ms/face "
                    f"({seconds:.1f} s; {counts['pairs_written']} pairs, {counts['failed']} failed)"
                )
            same = all(files == written[0] for files in written[1:])
            print(f"{people} {kind}: the same files on every number of processes: {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
