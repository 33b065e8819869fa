"""Ranks each benchmark set by a boundary run's crop output and by its map (seam or region), which does not ship.

    python -m scripts.measure_boundary_head --run runs/boundary_people [--checkpoint best|last] [--set KEY ...]

A run trained with ``--boundary-weight`` keeps its head in its checkpoints (``detector.training.blend_boundary``):
a seam map, or with ``--change-masks`` a map of the region each fake changed. Face X-ray scores a crop by its drawn
seam; this prints, on the DFDC validation crops (``--set dfdc_validation``) and on each benchmark set with both
classes, the ROC AUC of the crop output (one view, uncalibrated: a ranking, which a calibration would not change;
the cards' figures average the mirrored view too, so they differ a little) beside the ROC AUC of the map's largest
cell and of its mean, with 95% intervals from 1,000 bootstrap resamples of the set's groups. A diagnostic of
whether the map carries to manipulations the run never drew: nothing here changes what ships.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from detector.evaluation import benchmark, metrics
from detector.training import blend_boundary, datasets

RESAMPLES = 1000


def _interval(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """ROC AUC and its 95% percentile interval over resamples of whole groups."""
    members = metrics.group_members(groups)
    rng = np.random.default_rng(seed)
    estimate = roc_auc_score(labels, scores)
    resampled = []
    for _ in range(RESAMPLES):
        chosen = metrics.resample_indices(members, len(labels), rng)
        if 0 < labels[chosen].sum() < len(chosen):
            resampled.append(roc_auc_score(labels[chosen], scores[chosen]))
    low, high = np.percentile(resampled, [2.5, 97.5])
    return float(estimate), float(low), float(high)


# The key of the DFDC validation crops (groups no run trains on), beside the benchmark's set keys.
DFDC_VALIDATION = "dfdc_validation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder of a run with the boundary head")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument(
        "--set",
        action="append",
        dest="sets",
        help=f"{DFDC_VALIDATION} or benchmark set keys (default: every set and {DFDC_VALIDATION})",
    )
    parser.add_argument("--folder", type=Path, default=benchmark.DEFAULT_FOLDER)
    parser.add_argument("--cache-folder", type=Path, default=Path(".cache"))
    arguments = parser.parse_args()

    model = keras.saving.load_model(arguments.run / f"{arguments.checkpoint}.keras")
    if not blend_boundary.has_boundary_head(model):
        raise SystemExit(f"{arguments.run}: its {arguments.checkpoint} checkpoint has no boundary head")
    side = model.input_shape[1]
    print(f"{arguments.run} ({arguments.checkpoint}): ROC AUC [95% CI over groups]")
    print(f"{'set':<22} {'crops':>6}  {'crop output':<22} {'map, largest cell':<22} {'map, mean':<22}")
    sets = arguments.sets
    named = []
    if not sets or DFDC_VALIDATION in sets:
        named.append((DFDC_VALIDATION, datasets.split_by_group(datasets.load_dfdc_faces())[1]))
    benchmark_sets = [key for key in sets or [] if key != DFDC_VALIDATION]
    if benchmark_sets or not sets:
        named += [
            (item.key, benchmark.crop_set(item, arguments.folder, arguments.cache_folder))
            for item in benchmark.by_key(benchmark_sets or None)
        ]
    for key, crops in named:
        labels = np.asarray(crops.labels)
        if not 0 < labels.sum() < len(labels):
            continue
        images = datasets.decode_images(crops.root, crops.files, side, arguments.cache_folder).astype(np.float32)
        outputs = model.predict(images, batch_size=64, verbose=0)
        seams = outputs[blend_boundary.BOUNDARY_OUTPUT][..., 0]
        groups = np.asarray(crops.groups)
        columns = [
            _interval(labels, np.asarray(outputs[blend_boundary.CLASSIFIER_OUTPUT])[:, 0], groups),
            _interval(labels, seams.max(axis=(1, 2)), groups),
            _interval(labels, seams.mean(axis=(1, 2)), groups),
        ]
        cells = "  ".join(f"{auc:.3f} [{low:.3f}, {high:.3f}]".ljust(22) for auc, low, high in columns)
        print(f"{key:<22} {len(labels):>6}  {cells}")


if __name__ == "__main__":
    main()
