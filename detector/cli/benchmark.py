"""``python -m detector benchmark``: the generalisation benchmark (``detector.evaluation.benchmark``) for shipped
models, printed as a table and, with ``--record``, written into each model's card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from detector.cli import common
from detector.types import threshold_text

if TYPE_CHECKING:
    from detector.shipping import default_rule

# Where the sets are kept (``benchmark.DEFAULT_FOLDER``; not imported here, so that building the parser stays cheap).
DEFAULT_FOLDER = ".cache/benchmark"


def _add_benchmark(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "benchmark",
        help="measure models on every set of the generalisation benchmark (made the first time, a few minutes)",
    )
    parser.add_argument("--model", action="append", dest="models", required=True, help="model name (repeat)")
    # Crop sets are written the first time they are needed; the clips come from scripts.benchmark_clips.
    parser.add_argument("--set", action="append", dest="sets", help="only this set (repeat; default every set)")
    parser.add_argument(
        "--folder", default=str(DEFAULT_FOLDER), help=f"where the sets are kept (default {DEFAULT_FOLDER})"
    )
    parser.add_argument("--record", action="store_true", help="write each set's figures into each model's card")
    parser.add_argument("--resamples", type=common.at_least_one, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--cache", default=".cache", help="folder to cache decoded crops, face meshes and analysed clips in"
    )
    parser.add_argument(
        "--clips",
        action="append",
        help="labels CSV of the clip benchmark (python -m scripts.benchmark_clips; repeat for several): run the "
        "whole verdict path on "
        "every clip, fit a video's thresholds per aggregation strategy on half the people and measure them on the "
        "other half (with --record, written into the card)",
    )
    parser.add_argument("--clips-describe", default="", help="with --clips: what the clips are, in words")
    parser.add_argument(
        "--video",
        action="store_true",
        help="after the crop sets, the same for whole videos: the clip sets of UTKFace and DFDC people (made the "
        "first time, a few minutes) through the whole verdict path, and a video's thresholds fitted on them",
    )
    return parser


def _run_benchmark(arguments: argparse.Namespace) -> int:
    from detector.analysis import pipeline
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.evaluation import benchmark, evaluate, subgroups
    from detector.models import model_card
    from detector.shipping import ship

    if arguments.clips:
        return _run_clips(arguments, arguments.clips, arguments.clips_describe)
    try:
        items = benchmark.by_key(arguments.sets)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    root = Path(arguments.folder)
    rows = []
    for name in arguments.models:
        scorer = load_scorer([name])
        common.warn_unfitted(scorer)
        thresholds = pipeline.decision_thresholds(AnalysisConfig(), scorer.thresholds)
        fitted_on = scorer.card.calibration.sources if scorer.card.calibration else ()
        trained = ship.trained_kinds(scorer.card)
        model_items = [item.for_model(fitted_on, trained) for item in items]
        measured = benchmark.measure_model(
            scorer, thresholds, model_items, root, arguments.resamples, arguments.seed, Path(arguments.cache)
        )
        row = benchmark.table_row(name, measured)
        groups = {item.key: benchmark.group_rates(item, measured[item.key], scorer.input_size) for item in model_items}
        rows.append({"in_training": {item.key: item.in_training for item in model_items}, "groups": groups, **row})
        if arguments.record:
            measurements = {}
            for item in model_items:
                # Each set's command, as one evaluate call would repeat it.
                command = "python -m detector " + shlex.join(
                    ["benchmark", "--model", name, "--set", item.key, "--folder", arguments.folder, "--record"]
                )
                recorded = evaluate.card_metrics(
                    measured[item.key], item.key, item.description, command, arguments.resamples, arguments.seed
                )
                # Whether this model trained on the set's kind, for the page's summary and model choice.
                for entry in (item.key, f"{item.key}_decisions"):
                    recorded[entry][model_card.TRAINED_ON_KIND] = item.in_training
                rates = groups[item.key]
                if rates is not None:
                    recorded[f"{item.key}_groups"] = {
                        **subgroups.card_entry(rates, measured[item.key].metrics["threshold"]),
                        "command": command,
                    }
                measurements.update(recorded)
            path = evaluate.record_in_card(scorer.card, measurements)
            print(f"recorded {len(items)} sets in {path}")
    for item in items:
        print(f"\n{item.title} ({item.key})")
        for row in rows:
            print(f"  {row['model']:<24} {row[item.key]:<24} trained on this kind: {row['in_training'][item.key]}")
            if row["groups"][item.key] is not None:
                print(f"  {'':<24} called fake by group: {subgroups.summary_line(row['groups'][item.key])}")
    if arguments.video:
        labels_files = [str(path) for path in benchmark.ensure_clips(root, Path(arguments.cache))]
        print()
        return _run_clips(arguments, labels_files, benchmark.CLIPS_DESCRIPTION)
    return 0


def _run_clips(arguments: argparse.Namespace, labels_files: list[str], description: str) -> int:
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.errors import DatasetError
    from detector.evaluation import benchmark_clips
    from detector.shipping import ship, video_thresholds

    clips = video_thresholds.read_clips([Path(path) for path in labels_files])
    try:
        rows = [row for path in labels_files for row in benchmark_clips.read_rows(Path(path))]
    except DatasetError:
        rows = None  # clips written elsewhere, without the methods that made them
    config = AnalysisConfig()
    for name in arguments.models:
        scorer = load_scorer([name])
        trained = (
            benchmark_clips.TrainedOn("not known")
            if rows is None
            else benchmark_clips.trained_methods(rows, ship.trained_kinds(scorer.card))
        )
        cached = video_thresholds.scores_cache_path(Path(arguments.cache), scorer.card, clips, config)
        if cached.is_file():
            analysed = video_thresholds.load_scores(cached)
        else:
            with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
                analysed = video_thresholds.analyse_clips(clips, scorer, config, detector)
            video_thresholds.save_scores(cached, analysed)
        fitted = video_thresholds.fit(analysed, seed=arguments.seed)
        recommended = video_thresholds.best_strategy(fitted, analysed, config.aggregation, arguments.seed)
        print(f"{name}: {len(analysed)} clips; thresholds fitted on the fit half, measured on the report half")
        print(f"  trained on these clips' kinds of fake: {trained.card_text}")
        if recommended != config.aggregation:
            print(
                f"  {recommended!r} ranks the fit half's clips better than the analysis' default "
                f"{config.aggregation!r} beyond noise: the page and the command line still decide with the default "
                "(AnalysisConfig)"
            )
        for strategy, entry in fitted.items():
            report, decisions, chosen = entry["report"], entry["decisions"], entry["thresholds"]
            print(
                f"  {strategy:<10}{' (recommended)' if strategy == recommended else ''}: FAKE from "
                f"{threshold_text(chosen.fake)}, REAL below {threshold_text(chosen.uncertain_low)}; report half "
                f"ROC AUC {report['roc_auc']:.3f} {entry['intervals'].get('roc_auc')}, fakes caught "
                f"{video_thresholds.caught(decisions):.1%}, reals called fake {decisions['false_positive_rate']:.1%}, "
                f"inconclusive {decisions['uncertain_share']:.1%} (by quality "
                f"{decisions['uncertain_by_quality']:.1%}), no score {report['no_score']}"
            )
        crops = video_thresholds.measure_at(analysed, config.aggregation, scorer.thresholds)
        print(
            f"  at the crop thresholds instead (FAKE from {threshold_text(scorer.thresholds.fake)}, REAL below "
            f"{threshold_text(scorer.thresholds.uncertain_low)}; {config.aggregation}): fakes caught "
            f"{video_thresholds.caught(crops):.1%}, reals called fake {crops['false_positive_rate']:.1%}, "
            f"inconclusive {crops['uncertain_share']:.1%}"
        )
        if arguments.record:
            command = "python -m detector " + shlex.join(arguments.argv)
            described = description or f"the clip benchmark in {', '.join(labels_files)}"
            path = video_thresholds.record(scorer.card, fitted, recommended, described, command, trained)
            print(f"recorded video thresholds in {path}")
    return 0


def _add_judge(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "judge",
        help="judge a candidate by the rule for a new default (DESIGN.md), against the shipped default",
        description="Lines 1, 2, 4 and the unseen people of line 3 come from both cards (benchmark --record wrote "
        "them); the sample clips of line 3 and the time of line 5 come from analysing the sample clips with both "
        "models, taking turns (a few minutes; --cards-only skips it).",
    )
    parser.add_argument("--model", required=True, help="the candidate")
    parser.add_argument("--models-folder", help="where the candidate is (default: models/)")
    parser.add_argument("--default", help="the model to beat (default: the shipped default)")
    parser.add_argument(
        "--default-folder", help="where the model to beat is (default: the repository's models/, what ships)"
    )
    parser.add_argument(
        "--sample-clips", help="folder with labels.csv (file,label) and its clips (default: ../shared/samples/videos)"
    )
    parser.add_argument(
        "--cards-only", action="store_true", help="judge from the cards alone (lines 3 and 5 then stay not measured)"
    )
    return parser


def _run_judge(arguments: argparse.Namespace) -> int:
    from detector.models import model_card
    from detector.shipping import default_rule

    default_folder = Path(arguments.default_folder) if arguments.default_folder else model_card.MODELS_FOLDER
    candidate_folder = Path(arguments.models_folder) if arguments.models_folder else None
    # A missing card or model is a DetectorError: the command line says it in one line.
    default_name = arguments.default or model_card.default_model(default_folder)
    candidate = model_card.read_card(arguments.model, candidate_folder)
    default = model_card.read_card(default_name, default_folder)
    lines = default_rule.judge_cards(candidate, default)
    runs = {} if arguments.cards_only else _sample_clip_runs(arguments, candidate_folder, default_name, default_folder)
    empty = default_rule.SampleClipRun((), 0.0)
    theirs, ours = runs.get("candidate", empty), runs.get("default", empty)
    lines.append(default_rule.judge_sample_clips(theirs.verdicts, ours.verdicts, bool(candidate.video_thresholds)))
    measured = bool(runs)
    lines.append(
        default_rule.judge_time(
            theirs.scoring_seconds if measured else None, ours.scoring_seconds if measured else None
        )
    )
    lines.sort(key=lambda line: line.number)
    print("\n".join(default_rule.table(lines, candidate.name, default.name)))
    print(f"\n{candidate.name} {default_rule.verdict(lines)}")
    return 0


def _sample_clip_runs(
    arguments: argparse.Namespace, candidate_folder: Path | None, default_name: str, default_folder: Path
) -> dict[str, default_rule.SampleClipRun]:
    """Both models' verdicts and scoring time on the sample clips, keyed "candidate" and "default"."""
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig
    from detector.shipping import default_rule
    from detector.training import datasets

    folder = Path(arguments.sample_clips) if arguments.sample_clips else datasets.shared_folder() / "samples" / "videos"
    clips = datasets.read_labels(folder / "labels.csv", folder)
    scorers = {
        "candidate": load_scorer([arguments.model], candidate_folder),
        "default": load_scorer([default_name], default_folder),
    }
    # Both timed in one runtime: TensorFlow Lite only when both have a copy.
    if not all(member.lite for scorer in scorers.values() for member in scorer.scorers):
        scorers = {
            "candidate": load_scorer([arguments.model], candidate_folder, runtime="keras"),
            "default": load_scorer([default_name], default_folder, runtime="keras"),
        }
    config = AnalysisConfig()
    with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
        runs = default_rule.run_sample_clips(clips, scorers, config, detector)
    runtime = "TensorFlow Lite" if all(member.lite for member in scorers["default"].scorers) else "Keras"
    print(f"sample clips: {len(clips)} in {folder}, both models on {runtime}", file=sys.stderr)
    return runs


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    _add_benchmark(subparsers).set_defaults(run=_run_benchmark)
    _add_judge(subparsers).set_defaults(run=_run_judge)
