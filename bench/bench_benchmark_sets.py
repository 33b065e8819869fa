"""Cost of writing the benchmark's pair sets: `python bench/bench_benchmark_sets.py [--count 100] [--people utkface]`.

Prints, for the first ``--count`` held-out faces with a trusted mesh of each people, the milliseconds per face of
making and writing a face swap and a reenactment proxy with its real (``benchmark_sets.write_pairs``; each warp on
one BLAS thread), from which a whole set's time follows (about 2,000-2,500 faces each; a swap set's donors are
drawn among the first ``--count`` faces only, so its fakes are not the set's). Decoded crops and face meshes come
from ``--cache`` (made there the first time, not timed). Numbers go in docs/DESIGN.md ("Warps on one BLAS thread").
Run it while nothing else trains for clean numbers, and say so when something does.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="faces to make of each kind")
    parser.add_argument("--people", nargs="+", default=["utkface"], choices=benchmark_sets.PEOPLE)
    parser.add_argument("--cache", type=Path, default=Path(".cache"), help="decoded crops and face meshes")
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} cores; {arguments.count} faces of each kind")
    for people in arguments.people:
        faces = benchmark_sets.held_out_faces(people, arguments.cache)
        faces = dataclasses.replace(faces, trusted=faces.trusted[: arguments.count])
        for kind, manipulation in (
            ("face swaps", benchmark_sets.face_swaps(people)),
            ("reenactment proxies", benchmark_sets.reenactments),
        ):
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                counts = benchmark_sets.write_pairs(Path(folder), faces, 0, manipulation)
                seconds = time.perf_counter() - start
            print(
                f"{people} {kind}: {seconds / len(faces.trusted) * 1000:.0f} ms a face ({seconds:.1f} s; "
                f"{counts['pairs_written']} pairs, {counts['failed']} failed)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
