"""``python -m detector benchmark``: the generalisation benchmark (``detector.evaluation.benchmark``) for shipped
models, printed as a table and, with ``--record``, written into each model's card."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from detector.cli import common


def _add_benchmark(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from detector.evaluation.benchmark import DEFAULT_FOLDER, SET_KEYS

    parser = subparsers.add_parser(
        "benchmark",
        help="measure models on every set of the generalisation benchmark (made the first time, a few minutes)",
    )
    parser.add_argument("--model", action="append", dest="models", required=True, help="model name (repeat)")
    parser.add_argument("--set", action="append", dest="sets", choices=SET_KEYS, help="only this set (repeat)")
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help=f"where the sets are kept (default {DEFAULT_FOLDER})")
    parser.add_argument("--record", action="store_true", help="write each set's figures into each model's card")
    parser.add_argument("--resamples", type=common.at_least_one, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--cache", default=".cache", help="folder to cache decoded crops in (.npy)")
    return parser


def _run_benchmark(arguments: argparse.Namespace) -> int:
    from detector.analysis import pipeline
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.evaluation import benchmark, evaluate

    items = benchmark.by_key(arguments.sets)
    root = Path(arguments.folder)
    rows = []
    for name in arguments.models:
        scorer = load_scorer([name])
        common.warn_unfitted(scorer)
        thresholds = pipeline.decision_thresholds(AnalysisConfig(), scorer.thresholds)
        measured = benchmark.measure_model(
            scorer, thresholds, items, root, arguments.resamples, arguments.seed, Path(arguments.cache)
        )
        rows.append(benchmark.table_row(name, measured))
        if arguments.record:
            measurements = {}
            for item in items:
                # Each set's command, as one evaluate call would repeat it.
                command = "python -m detector " + shlex.join(
                    ["benchmark", "--model", name, "--set", item.key, "--folder", arguments.folder, "--record"]
                )
                measurements.update(
                    evaluate.card_metrics(
                        measured[item.key], item.key, item.description, command, arguments.resamples, arguments.seed
                    )
                )
            path = evaluate.record_in_card(scorer.card, measurements)
            print(f"recorded {len(items)} sets in {path}")
    for item in items:
        print(f"\n{item.title} ({item.key}; trained on this kind: {item.in_training})")
        for row in rows:
            print(f"  {row['model']:<24} {row[item.key]}")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_benchmark(subparsers).set_defaults(run=_run_benchmark)
