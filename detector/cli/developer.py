"""The developer's commands: ``evaluate``, ``score-crops``, ``calibrate``, ``quantize``, ``combine``, ``soup``,
``ensembles`` and ``lite`` (``python -m detector COMMAND --help``; ``train`` is in ``training``). Heavy modules are
imported inside each command, so that ``--help`` and the reviewer's ``scan`` start without them.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from detector.analysis.aggregation import STRATEGIES
from detector.cli import common
from detector.config import AnalysisConfig
from detector.models import model_card


def _add_score_crops(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("score-crops", help="score face crops that are already cropped")
    parser.add_argument("folder", help="folder of face crop images")
    parser.add_argument("--labels", required=True, help="CSV with file,label columns (label REAL or FAKE)")
    parser.add_argument("--out", required=True, help="CSV to write: file,label,fake_probability")
    parser.add_argument("--model", action="append", dest="models", help="model name (repeat for an ensemble)")
    parser.add_argument("--limit", type=int, help="score only the first N rows")
    return parser


def _run_score_crops(arguments: argparse.Namespace) -> int:
    from detector.analysis.scoring import load_scorer
    from detector.evaluation import metrics
    from detector.training import datasets

    crops = datasets.read_labels(Path(arguments.labels), Path(arguments.folder))
    if arguments.limit:
        crops = crops.subset(np.arange(len(crops)) < arguments.limit)
    scorer = load_scorer(arguments.models)
    images = datasets.decode_images(crops.root, crops.files, scorer.input_size)
    probabilities = scorer.score(images)
    with open(arguments.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "fake_probability"])
        for name, label, probability in zip(crops.files, crops.labels, probabilities, strict=True):
            writer.writerow([name, "FAKE" if label else "REAL", f"{probability:.6f}"])
    measured = metrics.classification_metrics(crops.labels, probabilities)
    auc = "n/a" if measured["roc_auc"] is None else f"{measured['roc_auc']:.3f}"
    print(
        f"scored {len(crops)} crops with {', '.join(scorer.names)}: ROC AUC {auc}, "
        f"log loss {measured['log_loss']:.3f}, accuracy {measured['accuracy']:.3f}; wrote {arguments.out}"
    )
    return 0


def _add_evaluate(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="measure models on labelled crops and/or videos, with bootstrap confidence intervals"
    )
    parser.add_argument("--crops", help="folder of face crop images (with --labels)")
    parser.add_argument("--labels", help="CSV with file,label[,group] columns for --crops (label REAL or FAKE)")
    parser.add_argument("--videos", help="CSV with file,label columns; video paths relative to the CSV's folder")
    parser.add_argument("--model", action="append", dest="models", help="model name (repeat for an ensemble)")
    parser.add_argument("--report", help="write the JSON report here")
    parser.add_argument("--plots", help="write roc.html and reliability.html (Plotly, offline) into this folder")
    parser.add_argument(
        "--frames", type=int, default=AnalysisConfig.frames_to_sample, help="frames to sample per video"
    )
    parser.add_argument("--aggregation", default=AnalysisConfig.aggregation, choices=sorted(STRATEGIES))
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--limit", type=int, help="use only the first N rows of each label file")
    parser.add_argument("--cache", help="folder to cache decoded crops in (.npy)")
    parser.add_argument(
        "--record",
        metavar="KEY",
        help="store the measurement in the model's card as metrics.KEY (one model, one level; needs --describe)",
    )
    parser.add_argument("--describe", help="with --record: what the data is, in words the page can show")
    return parser


def _record_error(arguments: argparse.Namespace) -> str | None:
    """Why ``--record`` cannot be honoured with these arguments, or None."""
    from detector.evaluation.evaluate import RESERVED_CARD_METRICS

    key = arguments.record
    if key is None:
        return "--describe goes with --record" if arguments.describe else None
    if not key.isidentifier() or key in RESERVED_CARD_METRICS or key.endswith(("_intervals", "_decisions")):
        return f"--record {key!r}: use a plain name that is not one of {', '.join(sorted(RESERVED_CARD_METRICS))}"
    if not arguments.describe:
        return "--record needs --describe: the card must say what the numbers were measured on"
    if len(arguments.models or []) != 1:
        return "--record needs exactly one --model: an ensemble built here has no card to record in"
    if bool(arguments.crops) == bool(arguments.videos):
        return "--record measures one level: give --crops or --videos, not both"
    return None


def _run_evaluate(arguments: argparse.Namespace) -> int:
    from detector.analysis import pipeline
    from detector.analysis.scoring import load_scorer
    from detector.evaluation import evaluate
    from detector.training import datasets

    if bool(arguments.crops) != bool(arguments.labels) or not (arguments.crops or arguments.videos):
        print("error: give --crops DIR with --labels CSV, and/or --videos CSV", file=sys.stderr)
        return 2
    if (problem := _record_error(arguments)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    config = AnalysisConfig(frames_to_sample=arguments.frames, aggregation=arguments.aggregation)
    scorer = load_scorer(arguments.models)
    common.warn_unfitted(scorer)
    thresholds = pipeline.decision_thresholds(config, scorer.thresholds)
    levels = []
    if arguments.crops:
        crops = datasets.read_labels(Path(arguments.labels), Path(arguments.crops))
        if arguments.limit:
            crops = crops.subset(np.arange(len(crops)) < arguments.limit)
        cache = Path(arguments.cache) if arguments.cache else None
        levels.append(
            evaluate.evaluate_crops(
                crops, scorer, thresholds, arguments.resamples, arguments.seed, cache, arguments.labels
            )
        )
    if arguments.videos:
        videos = datasets.read_labels(Path(arguments.videos), Path(arguments.videos).parent)
        if arguments.limit:
            videos = videos.subset(np.arange(len(videos)) < arguments.limit)
        from detector.analysis.faces import FaceDetector

        with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
            levels.append(
                evaluate.evaluate_videos(
                    videos, scorer, config, arguments.resamples, arguments.seed, detector, arguments.videos
                )
            )
    for line in evaluate.summary_lines(levels):
        print(line)
    command = "python -m detector " + shlex.join(arguments.argv)
    if arguments.record:
        measurements = evaluate.card_metrics(
            levels[0], arguments.record, arguments.describe, command, arguments.resamples, arguments.seed
        )
        path = evaluate.record_in_card(scorer.card, measurements)
        print(f"recorded as metrics.{arguments.record} in {path}")
    if arguments.report:
        data = evaluate.report(levels, scorer, thresholds, command, arguments.resamples, arguments.seed)
        Path(arguments.report).write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {arguments.report}")
    if arguments.plots:
        for path in evaluate.write_plots(levels, Path(arguments.plots)):
            print(f"wrote {path}")
    return 1 if any(level.errors for level in levels) else 0


def _add_calibrate(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "calibrate", help="refit a shipped model's calibration and thresholds on the validation split (no training)"
    )
    parser.add_argument("--name", required=True, help="model name: rewrites models/NAME.json, not the weights")
    parser.add_argument("--models-folder", help="where the model and card are (default: models/)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops (.npy)")
    parser.add_argument("--target-precision", type=float, default=0.9, help="precision each side must reach")
    parser.add_argument(
        "--method",
        choices=model_card.CALIBRATION_METHODS,
        default=model_card.DEFAULT_CALIBRATION_METHOD,
        help="temperature: divide the logit; platt: divide it and add a bias (default: %(default)s)",
    )
    parser.add_argument(
        "--on",
        choices=["dfdc", "mixed"],
        default="dfdc",
        help="fit on the DFDC validation split's calibration half, or on the calibration halves of DFDC's and "
        "FaceForensics++'s validation groups weighted alike (mixed); either way the benchmark figures and video "
        "thresholds are dropped from the card until `benchmark --record --video` runs again (default: %(default)s)",
    )
    return parser


def _run_calibrate(arguments: argparse.Namespace) -> int:
    from detector.models.calibration import describe
    from detector.shipping import ship

    card = ship.recalibrate(
        arguments.name,
        Path(arguments.models_folder) if arguments.models_folder else None,
        Path(arguments.cache_folder),
        arguments.target_precision,
        arguments.method,
        ("dfdc", "ffpp") if arguments.on == "mixed" else ("dfdc",),
    )
    print(
        f"{card.name}: calibration {describe(card.calibration)}; fake at {card.thresholds.fake:.3f}, "
        f"inconclusive from {card.thresholds.uncertain_low:.3f} ({card.thresholds.chosen_on}); card rewritten, "
        "weights unchanged"
    )
    return 0


def _add_quantize(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "quantize",
        help="store a model's weights in 8 bits (one scale per channel), measure that quality did not move, "
        "and refit its calibration",
    )
    parser.add_argument("--name", required=True, help="model name: models/NAME.keras becomes models/NAME.int8.npz")
    parser.add_argument("--models-folder", help="where the model and card are (default: models/)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops (.npy)")
    parser.add_argument("--keep-float", action="store_true", help="keep the float .keras file beside the 8-bit one")
    return parser


def _run_quantize(arguments: argparse.Namespace) -> int:
    from detector.shipping import ship

    card = ship.quantize(
        arguments.name,
        Path(arguments.models_folder) if arguments.models_folder else None,
        Path(arguments.cache_folder),
        keep_float=arguments.keep_float,
    )
    storage = card.metrics["storage"]
    print(
        f"{card.name}: {storage['float32_file_megabytes']:.1f} MB -> {storage['file_megabytes']:.1f} MB; "
        f"validation ROC AUC {storage['roc_auc_float32']:.4f} (float32) vs {storage['roc_auc_8bit']:.4f} (8-bit); "
        f"largest probability change {storage['largest_probability_change']:.4f}; card rewritten"
    )
    return 0


def _add_combine(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "combine",
        help="save one model that averages shipped models, with its own calibration, thresholds and metrics",
    )
    parser.add_argument("--name", required=True, help="the new model: writes models/NAME.keras and models/NAME.json")
    parser.add_argument("--member", action="append", required=True, dest="members", help="a model to average")
    parser.add_argument("--models-folder", help="where the members are and the result goes (default: models/)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops (.npy)")
    return parser


def _run_combine(arguments: argparse.Namespace) -> int:
    from detector.shipping import ship

    card = ship.combine(
        arguments.name,
        arguments.members,
        Path(arguments.models_folder) if arguments.models_folder else None,
        Path(arguments.cache_folder),
        command="python -m detector " + shlex.join(arguments.argv),
    )
    validation = card.metrics["validation"]
    print(
        f"{card.name}: mean of {', '.join(arguments.members)}; validation ROC AUC {validation['roc_auc']:.4f}, "
        f"log loss {validation['log_loss']:.4f}; fake at {card.thresholds.fake:.3f}, inconclusive from "
        f"{card.thresholds.uncertain_low:.3f}"
    )
    return 0


def _add_soup(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "soup",
        help="save one network whose weights average shipped networks' (fine-tunes of one start), calibrated anew",
    )
    parser.add_argument("--name", required=True, help="the new model: writes models/NAME.keras and models/NAME.json")
    parser.add_argument("--member", action="append", required=True, dest="members", help="a network to average")
    parser.add_argument(
        "--weight",
        action="append",
        type=common.not_negative,
        dest="weights",
        help="each member's share, in --member order (default: equal shares; scaled to sum to 1)",
    )
    parser.add_argument("--models-folder", help="where the members are and the result goes (default: models/)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops (.npy)")
    return parser


def _run_soup(arguments: argparse.Namespace) -> int:
    from detector.shipping import soup

    try:
        card = soup.make_soup(
            arguments.name,
            arguments.members,
            arguments.weights,
            Path(arguments.models_folder) if arguments.models_folder else None,
            Path(arguments.cache_folder),
            command="python -m detector " + shlex.join(arguments.argv),
        )
    except ValueError as error:  # the members and their shares do not fit together
        print(f"error: {error}", file=sys.stderr)
        return 2
    validation = card.metrics["validation"]
    shares = soup.normalised_weights(len(arguments.members), arguments.weights)
    mixture = ", ".join(f"{member} {share:.0%}" for member, share in zip(arguments.members, shares, strict=True))
    print(
        f"{card.name}: the weights of {mixture}; validation ROC AUC "
        f"{validation['roc_auc']:.4f}, log loss {validation['log_loss']:.4f}; fake at {card.thresholds.fake:.3f}, "
        f"inconclusive from {card.thresholds.uncertain_low:.3f}"
    )
    return 0


def _add_ensembles(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ensembles",
        help="fit thresholds for every selection of several shipped models on validation data "
        "(writes models/ensembles.json; rerun after shipping, recalibrating or retraining a model)",
    )
    parser.add_argument("--models-folder", help="the models to combine, and where the table goes (default: models/)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops (.npy)")
    return parser


def _run_ensembles(arguments: argparse.Namespace) -> int:
    from detector.shipping import ensembles

    folder = Path(arguments.models_folder) if arguments.models_folder else None
    table = ensembles.build_table(folder, Path(arguments.cache_folder))
    path = ensembles.write_table(table, folder)
    for key, entry in table["selections"].items():
        decisions = entry["decisions"]
        print(
            f"{key}: fake at {entry['thresholds']['fake']:.3f}, inconclusive from "
            f"{entry['thresholds']['uncertain_low']:.3f}; ROC AUC {entry['validation']['roc_auc']:.4f}; reals called "
            f"fake {decisions['false_positive_rate']:.1%}, fakes called real {decisions['false_negative_rate']:.1%}, "
            f"inconclusive {decisions['uncertain_share']:.0%}"
        )
    print(f"{len(table['selections'])} selections -> {path}")
    return 0


def _add_lite(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lite",
        help="write a TensorFlow Lite copy of shipped models, checked against them on validation crops, so that the "
        "analysis scores without loading TensorFlow",
    )
    parser.add_argument("--name", action="append", dest="names", required=True, help="model (repeat for several)")
    parser.add_argument("--crops", type=common.at_least_one, default=512, help="validation crops to check on")
    parser.add_argument("--cache", default=".cache", help="decoded-image cache folder")
    return parser


def _run_lite(arguments: argparse.Namespace) -> int:
    from detector.shipping import lite
    from detector.training import datasets

    for name in arguments.names:
        card = model_card.read_card(name)
        percent = int(card.training.get("validation_percent", datasets.VALIDATION_PERCENT))
        _, images = datasets.dfdc_validation(percent, card.preprocessing.input_size, Path(arguments.cache))
        path = lite.export(name, images[: arguments.crops], checked_on=datasets.VALIDATION_DATA)
        recorded = model_card.read_card(name).extra["tflite"]
        print(
            f"{name}: wrote {recorded['file']} ({recorded['megabytes']} MB), largest difference from the Keras model "
            f"{recorded['largest_difference']:.1e} on {recorded['checked_on']}; card {path}"
        )
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Adds these commands to the command line."""
    _add_score_crops(subparsers).set_defaults(run=_run_score_crops)
    _add_evaluate(subparsers).set_defaults(run=_run_evaluate)
    _add_calibrate(subparsers).set_defaults(run=_run_calibrate)
    _add_quantize(subparsers).set_defaults(run=_run_quantize)
    _add_combine(subparsers).set_defaults(run=_run_combine)
    _add_soup(subparsers).set_defaults(run=_run_soup)
    _add_ensembles(subparsers).set_defaults(run=_run_ensembles)
    _add_lite(subparsers).set_defaults(run=_run_lite)
