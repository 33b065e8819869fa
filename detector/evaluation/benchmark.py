"""The generalisation benchmark: every crop-level set, made once, measured for any model by one command.

    python -m detector benchmark --model NAME [--model NAME ...] [--record]

The sets (``SETS``; written by ``detector.evaluation.benchmark_sets`` into ``.cache/benchmark/<key>/`` the first
time they are needed, a few minutes) are people no model trains on, manipulated in ways the DFDC validation split
does not show. Each is measured at the model's own crop thresholds with bootstrap intervals over groups
(``evaluate.evaluate_crops``) and, with ``--record``, written into the model's card under the set's key, so the
page, the README's table and the ensembles table read the same numbers.

Whether a set measures a manipulation the model trained on is said for each model (``BenchmarkSet.for_model``,
from ``ship.trained_kinds``): the FF++ methods are in a mixed run's training (other groups), the face swaps and
reenactment proxies are made by generators that some mixed runs also train with (on their own training people), so
for those models the set measures the generator, not generalisation.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.evaluation import benchmark_clips, benchmark_sets, evaluate, subgroups
from detector.training import datasets, sources

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = Path(".cache") / "benchmark"


@dataclass(frozen=True)
class BenchmarkSet:
    """One set: its card key, a short title for tables, what it is in words (the card's ``data``), the folder it is
    written into and the labels file inside, and the writer that makes the folder (``(out, cache folder) ->
    counts``; the cache folder keeps the decoded photos and face meshes the writers share)."""

    key: str
    title: str
    description: str
    folder: str
    labels: str
    write: Callable[[Path, Path | None], dict[str, int]]
    # The kind of fake this set's fakes are, as a card says it trained on it (``sources.FACE_SWAP``,
    # ``REENACTMENT_PROXY``, ``FFPP_FAKES``; None for real faces only), and whether the model measured did, in
    # words (empty until ``for_model`` says it for a model).
    kind: str | None
    in_training: str = ""
    # The source whose validation groups these are, when a calibration may be fitted on them (``"ffpp"``), and
    # whether only the report half of its groups is measured (``for_model``).
    calibration_source: str | None = None
    report_half_only: bool = False
    # Whether the set's reals are UTKFace photos whose false alarms are also counted group by group
    # (``subgroups``: gender, ethnicity, age, sharpness).
    by_group: bool = False

    def labels_path(self, root: Path) -> Path:
        return root / self.folder / self.labels

    def for_model(self, calibration_sources: Sequence[str], trained_kinds: Collection[str] = ()) -> BenchmarkSet:
        """The set as measured for a model whose calibration was fitted on ``calibration_sources`` and whose
        networks trained on ``trained_kinds`` of fake (``ship.trained_kinds``): whether it trained on this set's
        kind, said in ``in_training`` and the description; and where the calibration's sources include this set's
        groups, only their report half (``datasets.in_calibration_half`` false), since the other half fitted the
        probabilities and thresholds being measured."""
        in_training, words = _SAID[self.kind][self.kind is not None and self.kind in trained_kinds]
        found = dataclasses.replace(self, in_training=in_training, description=f"{self.description}; {words}")
        if self.calibration_source is None or self.calibration_source not in calibration_sources:
            return found
        return dataclasses.replace(
            found,
            report_half_only=True,
            description=f"{found.description}; the report half of these groups only (the other half fitted this "
            "model's calibration and thresholds)",
        )


_GENERATOR_TRAINED = (
    "this model was trained on fakes of this generator (between its own training people), so this figure measures "
    "what it learnt of the generator, not generalisation"
)
# For each kind of set, what is said when the model measured did not (False) or did (True) train on it: the
# printout's words, then the words appended to the set's description in the model's card. Real faces only are no
# kind of fake, so nothing trains on them.
_SAID = {
    None: {False: ("none: real faces only", "real faces only")},
    sources.FACE_SWAP: {
        False: ("no", "a method this model was not trained on"),
        True: ("yes: this generator, on its own training people", _GENERATOR_TRAINED),
    },
    sources.REENACTMENT_PROXY: {
        False: ("no", "a manipulation this model was not trained on"),
        True: ("yes: this generator, on its own training people", _GENERATOR_TRAINED),
    },
    sources.FFPP_FAKES: {
        False: ("no", "this model was not trained on FaceForensics++"),
        True: (
            "yes: these methods, on other groups",
            "this model was trained on these methods, on the other FF++ groups",
        ),
    },
}


def _swap_description(people: str) -> str:
    who, what = benchmark_sets.PEOPLE_WORDS[people]
    return (
        f"face swaps made here between {who} (landmark warp, colour matching, alpha or Poisson blending), and the "
        f"same {what} unswapped"
    )


def _reenactment_description(people: str) -> str:
    who, what = benchmark_sets.PEOPLE_WORDS[people]
    return (
        f"reenactment proxies made here of {who}: only the mouth or the lower face moved to a new expression by a "
        f"landmark warp of the same image and blended back, and the same {what} untouched"
    )


def _ffpp_description(method: str) -> str:
    return (
        f"FaceForensics++ {method} fakes against the FF++ YouTube reals of the validation groups "
        f"({sources.FFPP_VALIDATION_PERCENT}% of the 40 groups, which no model trains on), cut to the analysis framing"
    )


UNSEEN_REAL_FACES = (
    "UTKFace photos of people no model here was trained on (the held-out quarter of the collection; all real faces)"
)


def _sets() -> tuple[BenchmarkSet, ...]:
    found: list[BenchmarkSet] = [
        BenchmarkSet(
            "unseen_real_faces",
            "Unseen real people (UTKFace)",
            UNSEEN_REAL_FACES,
            "utkface_held_out",
            "labels.csv",
            lambda out, cache: benchmark_sets.write_utkface_held_out(out),
            None,
            by_group=True,
        )
    ]
    for people, key, title in (("utkface", "unseen_face_swaps", "UTKFace"), ("dfdc", "dfdc_face_swaps", "DFDC")):
        found.append(
            BenchmarkSet(
                key,
                f"Face swaps, {title} people",
                _swap_description(people),
                key,
                "labels.csv",
                lambda out, cache, people=people: benchmark_sets.write_face_swaps(out, people, 0, cache),
                sources.FACE_SWAP,
            )
        )
    for people, title in (("utkface", "UTKFace"), ("dfdc", "DFDC")):
        key = f"{people}_reenactments"
        found.append(
            BenchmarkSet(
                key,
                f"Reenactment proxies, {title} people",
                _reenactment_description(people),
                key,
                "labels.csv",
                lambda out, cache, people=people: benchmark_sets.write_reenactments(out, people, 0, cache),
                sources.REENACTMENT_PROXY,
            )
        )
    for method in sources.FFPP_METHODS:
        found.append(
            BenchmarkSet(
                f"ffpp_{method.lower()}",
                f"FF++ {method}",
                _ffpp_description(method),
                "ffpp_validation",
                f"labels-{method}.csv",
                lambda out, cache: benchmark_sets.write_ffpp_validation(out),
                sources.FFPP_FAKES,
                calibration_source="ffpp",
            )
        )
    return tuple(found)


SETS = _sets()
SET_KEYS = tuple(item.key for item in SETS)


def by_key(keys: Sequence[str] | None) -> tuple[BenchmarkSet, ...]:
    """The sets named (all when None), in ``SETS`` order; ``ValueError`` names an unknown one."""
    if keys is None:
        return SETS
    unknown = sorted(set(keys) - set(SET_KEYS))
    if unknown:
        raise ValueError(f"unknown benchmark sets {unknown}: choose from {list(SET_KEYS)}")
    return tuple(item for item in SETS if item.key in keys)


def ensure_written(item: BenchmarkSet, root: Path, cache_folder: Path | None = None) -> Path:
    """The set's labels file, writing the set's folder first when it is not there (or half-written)."""
    labels = item.labels_path(root)
    if not labels.is_file():
        logger.info("writing the benchmark set %s into %s", item.key, labels.parent)
        counts = item.write(labels.parent, cache_folder)
        logger.info("%s: %s", item.key, counts)
    if not labels.is_file():
        raise FileNotFoundError(f"writing {item.key} left no {labels}")
    return labels


def crop_set(item: BenchmarkSet, root: Path, cache_folder: Path | None = None) -> datasets.CropSet:
    labels = ensure_written(item, root, cache_folder)
    crops = datasets.read_labels(labels, labels.parent)
    if item.report_half_only:
        crops = crops.subset(np.array([not datasets.in_calibration_half(group) for group in crops.groups]))
    return crops


def measure_model(
    scorer: Any,
    thresholds: Any,
    items: Sequence[BenchmarkSet],
    root: Path = DEFAULT_FOLDER,
    resamples: int = evaluate.RESAMPLES,
    seed: int = evaluate.SEED,
    cache_folder: Path | None = None,
) -> dict[str, evaluate.LevelEvaluation]:
    """Each set measured for one scorer (``scoring.load_scorer``) at ``thresholds``, by key."""
    measured = {}
    for item in items:
        crops = crop_set(item, root, cache_folder)
        measured[item.key] = evaluate.evaluate_crops(
            crops, scorer, thresholds, resamples, seed, cache_folder, str(item.labels_path(root))
        )
        logger.info("%s: %s", item.key, evaluate.summary_lines([measured[item.key]])[0])
    return measured


def group_rates(
    item: BenchmarkSet, level: evaluate.LevelEvaluation, side: int
) -> dict[str, list[subgroups.GroupRate]] | None:
    """The set's reals called fake group by group (``subgroups.false_alarms_by_group``, sharpness at ``side``
    pixels, the model's input) at the threshold ``level`` was measured at, for a set whose reals are grouped
    (``by_group``); None for the others."""
    if not item.by_group:
        return None
    real = level.labels == 0
    folder = Path(level.data["folder"])
    paths = [folder / name for name, keep in zip(level.ids, real, strict=True) if keep]
    called_fake = level.probabilities[real] >= level.metrics["threshold"]
    return subgroups.false_alarms_by_group(paths, called_fake, side)


def table_row(name: str, measured: dict[str, evaluate.LevelEvaluation]) -> dict[str, str]:
    """One model's figures as table cells: ROC AUC [interval] where the set has both classes, else the share of
    reals called fake."""
    cells = {"model": name}
    for key, level in measured.items():
        if level.metrics.get("count_fake") and level.metrics.get("count_real"):
            interval = level.intervals.get("roc_auc")
            low_high = f" [{interval['low']:.3f}, {interval['high']:.3f}]" if interval else ""
            cells[key] = f"{level.metrics['roc_auc']:.3f}{low_high}"
        else:
            cells[key] = f"{level.decisions['false_positive_rate']:.1%} called fake"
    return cells


# The clip sets ``benchmark --video`` uses: folder per people, clips each (half real, half fake), and in words.
CLIP_COUNT = 120
CLIP_FOLDERS = {people: f"clips-{people}" for people in benchmark_clips.PEOPLE}
CLIPS_DESCRIPTION = (
    f"{CLIP_COUNT * len(CLIP_FOLDERS)} clips filmed here from photos of held-out people ({CLIP_COUNT} UTKFace, "
    f"{CLIP_COUNT} DFDC validation reals), half real and half manipulated (landmark face swap, reenactment proxy or "
    "self-blend, once per clip), H.264 at CRF 23, 28 and 38"
)


def ensure_clips(root: Path = DEFAULT_FOLDER, cache_folder: Path | None = Path(".cache")) -> list[Path]:
    """The labels files of the clip sets of every people, each written first when it is not there (about two
    minutes each)."""
    found = []
    for people, folder in CLIP_FOLDERS.items():
        labels = root / folder / "labels.csv"
        if not labels.is_file():
            logger.info("writing the clip set of %s people into %s", people, labels.parent)
            benchmark_clips.write_clips(labels.parent, people, CLIP_COUNT, 0, cache_folder)
        found.append(labels)
    return found
