"""The operator's command: ``python -m detector scan-archive SOURCE... --results RESULTS``.

Scans folders, lists and files on Ray (a local one by default, or a cluster with ``--address``), writes a Parquet
row for every file as it finishes, and resumes where an earlier run with the same ``--results`` stopped. Exit
status 0 when the scan ran, even if files failed (they are rows with their reason); 1 when it could not start.
Needs Ray (``pip install -r requirements-archive.txt``), which the page does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from detector.analysis.aggregation import STRATEGIES
from detector.cli import common
from detector.config import AnalysisConfig
from detector.errors import DetectorError


def _add_scan_archive(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "scan-archive",
        help="scan folders or lists of videos and photos on Ray (one computer or a cluster), resumable",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a video or photo, a folder (searched recursively for every type the page accepts), or @LIST.txt "
        "(one path a line; relative paths are relative to the list)",
    )
    parser.add_argument(
        "--results",
        required=True,
        help="results folder: a Parquet dataset (pyarrow.parquet.read_table(RESULTS)) with one row a file, and the "
        "faces table in RESULTS/_faces; a rerun with the same folder skips what is done",
    )
    parser.add_argument(
        "--workers", type=common.at_least_one, help="workers, one core each (default: every core of Ray)"
    )
    parser.add_argument(
        "--address",
        help="join a running Ray cluster: 'auto' (this machine is part of it) or ray://HOST:10001 (default: "
        "RAY_ADDRESS if set, else a Ray started here and stopped at the end); every node must see the files at "
        "the same paths",
    )
    parser.add_argument("--model", action="append", dest="models", help="model name (repeat for an ensemble)")
    parser.add_argument("--frames", type=common.at_least_one, default=AnalysisConfig.frames_to_sample)
    parser.add_argument("--aggregation", default=AnalysisConfig.aggregation, choices=sorted(STRATEGIES))
    parser.add_argument("--reports", help="also write each video's PDF report into this folder")
    parser.add_argument(
        "--retry-failed", action="store_true", help="analyse again the files an earlier run recorded as failed"
    )
    return parser


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="scanning", file=sys.stderr, mininterval=1.0, dynamic_ncols=True)


def summary_lines(summary, results: Path) -> list[str]:
    """The closing lines: counts per verdict, failures by reason, throughput."""
    verdicts = ", ".join(f"{label} {count}" for label, count in sorted(summary.verdicts.items())) or "none"
    lines = [
        f"{summary.files} file(s): {verdicts}; {summary.failed} failed; {summary.skipped} skipped (already in "
        f"{results}); {summary.copied} with the same content as a file scanned before"
    ]
    for reason, count in summary.failures.most_common():
        lines.append(f"  failed ({count}): {reason}")
    if summary.analysed:
        lines.append(
            f"{summary.analysed} analysed in {summary.seconds:.1f} s on {summary.workers} worker(s) "
            f"({summary.startup_seconds:.1f} s of it starting them): {summary.clips_per_minute:.1f} clips a minute"
            + (f"; {summary.replaced_workers} worker(s) replaced" if summary.replaced_workers else "")
        )
    return lines


def _run_scan_archive(arguments: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        print("error: scan-archive needs Ray: pip install -r requirements-archive.txt", file=sys.stderr)
        return 1
    from detector.archive import engine, rows, sources
    from detector.archive.store import ResultsStore
    from detector.models import ensemble_table, model_card

    config = AnalysisConfig(frames_to_sample=arguments.frames, aggregation=arguments.aggregation)
    names = arguments.models or [model_card.default_model()]
    cards = [model_card.read_card(name) for name in names]
    for card in cards:
        model_card.verified_weights(card)
    entry = ensemble_table.entry_for(cards) if len(cards) > 1 else None
    thresholds = ensemble_table.as_thresholds(entry) or cards[0].thresholds
    settings = rows.settings_fingerprint(cards, thresholds, config)
    try:
        paths = sources.expand_sources(arguments.sources)
    except FileNotFoundError as error:
        raise DetectorError(str(error)) from error
    store = ResultsStore(arguments.results)
    print(f"hashing {len(paths)} file(s) to see what is left to do…", file=sys.stderr)
    started = time.perf_counter()
    todo = engine.plan(paths, store, settings, names, arguments.retry_failed)
    print(
        f"{todo.skipped} already in {arguments.results}, skipped; {todo.files_to_scan} to analyse "
        f"({len(todo.jobs)} distinct); planned in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    bar = _progress_bar(todo.files_to_scan + len(todo.ready))

    def progress(done: int, total: int, failures: int) -> None:
        bar.n = done
        bar.set_postfix(failed=failures, refresh=False)
        bar.refresh()

    try:
        summary = engine.run(
            todo,
            store,
            config,
            settings,
            names,
            models_folder=str(model_card.models_folder()),
            reports_folder=arguments.reports,
            workers=arguments.workers,
            address=arguments.address,
            progress=progress,
        )
    finally:
        bar.close()
    for line in summary_lines(summary, Path(arguments.results)):
        print(line)
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Adds these commands to the command line."""
    _add_scan_archive(subparsers).set_defaults(run=_run_scan_archive)
