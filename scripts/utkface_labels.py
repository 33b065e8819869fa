"""Writes a labels CSV (file,label) of UTKFace photos for ``python -m detector evaluate --crops``.

    python -m scripts.utkface_labels OUT.csv [--all]

By default only the held-out photos (``datasets.split_utkface``), which no model is trained on: the share of them
called fake is the false-positive rate on real people unlike DFDC's. All are REAL.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from detector.training import datasets

# What the held-out photos are, as every card's metrics.unseen_real_faces says it (evaluate --describe).
HELD_OUT_DESCRIPTION = (
    "UTKFace photos of people no model here was trained on (the held-out quarter of the collection; all real faces)"
)


def write_labels(out: Path, everything: bool = False) -> datasets.CropSet:
    """The held-out photos (or ``everything``) as a labels CSV at ``out``; returns them."""
    photos = datasets.load_utkface()
    chosen = photos if everything else datasets.split_utkface(photos)[1]
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows((name, "REAL") for name in chosen.files)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--all", action="store_true", help="every photo, also those runs may train on")
    arguments = parser.parse_args()
    chosen = write_labels(Path(arguments.out), arguments.all)
    print(f"{len(chosen)} photos from {chosen.root} -> {arguments.out}")


if __name__ == "__main__":
    main()
