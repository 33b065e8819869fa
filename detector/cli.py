"""The command line: ``python -m detector {scan,score-crops,train} ...``.

Exit status: 0 when every input was judged (a "can't tell" verdict included), 1 when an input could not be read
(with a one-line reason on stderr), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.aggregation import STRATEGIES
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.faces import FaceDetector
from detector.scoring import EnsembleScorer


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a face-crop classifier and write it with its card")
    parser.add_argument("--name", required=True, help="model name: writes models/NAME.keras and models/NAME.json")
    parser.add_argument(
        "--architecture", default="compact", choices=["compact", "inception_resnet_v2", "vgg16", "resnet50"]
    )
    parser.add_argument("--resolution", type=int, default=128, help="side the model works at (pixels)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=3, help="early stopping patience (epochs)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--limit", type=int, help="use at most this many training crops (smoke runs)")
    parser.add_argument("--init", dest="init_weights", help="local weights file to start from")
    parser.add_argument("--run-folder", default="runs", help="where checkpoints and the log go")
    parser.add_argument("--models-folder", help="where the final model and card go (default: models/)")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    parser.add_argument(
        "--export-only", action="store_true", help="measure the run's best checkpoint and write the model and card"
    )


def _run_train(arguments: argparse.Namespace) -> int:
    from detector import model_card, train

    config = train.TrainingConfig(
        name=arguments.name,
        architecture=arguments.architecture,
        resolution=arguments.resolution,
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate,
        patience=arguments.patience,
        seed=arguments.seed,
        limit=arguments.limit,
        init_weights=arguments.init_weights,
        run_folder=arguments.run_folder,
        models_folder=arguments.models_folder or str(model_card.MODELS_FOLDER),
        command="python -m detector " + shlex.join(arguments.argv),
    )
    card = train.train(config, resume=arguments.resume, export_only=arguments.export_only)
    print(f"wrote {card}")
    return 0


def _add_scan(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scan", help="judge videos: one verdict line per video")
    parser.add_argument("videos", nargs="+", help="video files")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="model name in models/ (repeat for an ensemble; default: the default model)",
    )
    parser.add_argument("--frames", type=int, default=AnalysisConfig.frame_count, help="frames to sample")
    parser.add_argument("--aggregation", default=AnalysisConfig.aggregation, choices=sorted(STRATEGIES))
    parser.add_argument("--threshold", type=float, help="fake threshold (default: the model card's)")
    parser.add_argument("--json", dest="json_path", help="write the full result(s) to this JSON file")


def _add_score_crops(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score-crops", help="score face crops that are already cropped")
    parser.add_argument("folder", help="folder of face crop images")
    parser.add_argument("--labels", required=True, help="CSV with file,label columns (label REAL or FAKE)")
    parser.add_argument("--out", required=True, help="CSV to write: file,label,fake_probability")
    parser.add_argument("--model", action="append", dest="models", help="model name (repeat for an ensemble)")
    parser.add_argument("--limit", type=int, help="score only the first N rows")


def _scan_one(path: str, scorer: EnsembleScorer, config: AnalysisConfig, detector: FaceDetector) -> tuple[str, dict]:
    from detector import export, pipeline

    result = pipeline.analyze(path, scorer, config, detector)
    verdict = result.verdict
    if verdict.fake_probability is None:
        line = f"{path}: {verdict.label.plain_words}: {verdict.reason}"
    else:
        line = (
            f"{path}: {verdict.label.plain_words} (fake probability {verdict.fake_probability:.2f}, "
            f"{verdict.frames_above_threshold} of {verdict.frames_used} frames at or above "
            f"{verdict.threshold:.2f})"
        )
    return line, export.result_to_dict(result, file_name=path, config=config)


def _run_scan(arguments: argparse.Namespace) -> int:
    from detector.scoring import load_scorer

    config = AnalysisConfig(
        frame_count=arguments.frames,
        aggregation=arguments.aggregation,
        fake_threshold=arguments.threshold,
        uncertain_low=arguments.threshold,
    )
    scorer = load_scorer(arguments.models)
    results: list[dict] = []
    failures = 0
    with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
        for path in arguments.videos:
            try:
                line, data = _scan_one(path, scorer, config, detector)
            except DetectorError as error:
                failures += 1
                print(f"{path}: cannot analyse: {error}", file=sys.stderr)
                results.append(
                    {
                        "file": path,
                        "verdict": None,
                        "fake_probability": None,
                        "frames": [],
                        "error": str(error),
                    }
                )
                continue
            print(line, flush=True)
            results.append(data)
    if arguments.json_path:
        payload = results[0] if len(results) == 1 else results
        Path(arguments.json_path).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if failures else 0


def _run_score_crops(arguments: argparse.Namespace) -> int:
    from detector import datasets, metrics
    from detector.scoring import load_scorer

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m detector", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_scan(subparsers)
    _add_score_crops(subparsers)
    _add_train(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = parser.parse_args(argv)
    arguments.argv = argv
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    commands = {"scan": _run_scan, "score-crops": _run_score_crops, "train": _run_train}
    try:
        return commands[arguments.command](arguments)
    except DetectorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
