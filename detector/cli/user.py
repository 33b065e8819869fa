"""The reviewer's command: ``python -m detector scan VIDEO...``, one verdict line per file, with optional JSON,
reports, annotated videos and a stability check.

Exit status: 0 when every input was judged (an "inconclusive" verdict included), 1 when an input could not be read
(with a one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from detector.analysis.aggregation import STRATEGIES
from detector.cli import common
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.models import model_card
from detector.types import VideoResult, threshold_text

if TYPE_CHECKING:
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import EnsembleScorer


def _add_scan(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("scan", help="judge videos and photos: one verdict line per file")
    parser.add_argument("videos", nargs="+", help="video files, or photos (JPEG, PNG, WebP: judged as one frame)")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="model name in models/ (repeat for an ensemble; default: the default model)",
    )
    parser.add_argument("--frames", type=int, default=AnalysisConfig.frames_to_sample, help="frames to sample")
    parser.add_argument("--aggregation", default=AnalysisConfig.aggregation, choices=sorted(STRATEGIES))
    parser.add_argument(
        "--threshold",
        type=float,
        help="one fake threshold for every verdict, with no inconclusive band (default: the thresholds chosen on "
        "validation data for the selected model or models)",
    )
    parser.add_argument("--json", dest="json_path", help="write the full result(s) to this JSON file")
    parser.add_argument(
        "--report",
        dest="report_path",
        metavar="OUT",
        type=_report_argument,
        help="write a report a person can read and share; OUT ends in .pdf or .html. With several videos, one "
        "report per video next to OUT, named after OUT and the video: --report out/report.pdf a.mp4 b.mp4 writes "
        "out/report-a.pdf and out/report-b.pdf",
    )
    parser.add_argument(
        "--annotate",
        dest="annotate_path",
        metavar="OUT.mp4",
        type=Path,
        help="write the video with each scored face boxed and labelled with its score (H.264 mp4; a photo gets a "
        "PNG, OUT with .png). With several videos, one per video named after OUT and the video, as for --report",
    )
    parser.add_argument(
        "--stability",
        action="store_true",
        help="also judge a re-encoded copy (smaller, low quality, as social platforms make) and say whether the "
        'verdict holds; adds "stability" to the JSON',
    )
    return parser


def _write_annotated(result: VideoResult, path: str, config: AnalysisConfig, out: Path) -> None:
    from detector.outputs import annotate

    out = annotate.write_annotated(path, result, out, analysis_max_side=config.max_frame_side)
    print(f"{path}: wrote the annotated copy {out}", file=sys.stderr)


def _check_stability(
    result: VideoResult, path: str, scorer: EnsembleScorer, config: AnalysisConfig, detector: FaceDetector
) -> tuple[str, dict | None]:
    from detector.outputs import stability

    if not stability.can_check(result):
        return f"{path}: stability not checked: there is no verdict to check", None
    checked = stability.check_stability(path, result, scorer, config, detector=detector)
    return f"{path}: {checked.sentence}", checked.as_dict()


def _report_argument(value: str) -> Path:
    from detector.outputs.report_files import REPORT_SUFFIXES

    if Path(value).suffix.lower() not in REPORT_SUFFIXES:
        raise argparse.ArgumentTypeError(f"the report file must end in .pdf or .html, got {value!r}")
    return Path(value)


# Faces per person shown with where the model looked, in a report (the page shows as many).


def _write_report(
    result: VideoResult, path: str, scorer: EnsembleScorer, config: AnalysisConfig, report_path: Path
) -> None:
    from detector.outputs import explain, report

    content = report.build_report(
        result,
        [member.card for member in scorer.scorers],
        config,
        file_name=Path(path).name,
        size_bytes=Path(path).stat().st_size,
        sha256=model_card.file_sha256(Path(path)),
        overlays=explain.explain_top_faces(result, scorer),
    )
    from detector.outputs import report_files

    report_path.write_bytes(report_files.render(content, report_path.suffix))
    print(f"{path}: wrote the report {report_path}", file=sys.stderr)


def _scan_one(
    path: str,
    scorer: EnsembleScorer,
    config: AnalysisConfig,
    detector: FaceDetector,
    report_path: Path | None = None,
    annotate_path: Path | None = None,
    check_stability: bool = False,
) -> tuple[str, dict]:
    from detector.analysis import pipeline
    from detector.outputs import export

    result = pipeline.analyze(path, scorer, config, detector)
    if report_path is not None:
        _write_report(result, path, scorer, config, report_path)
    if annotate_path is not None:
        _write_annotated(result, path, config, annotate_path)
    verdict = result.verdict
    if verdict.fake_probability is None:
        line = f"{path}: {verdict.label.plain_words}: {verdict.reason}"
    else:
        line = (
            f"{path}: {verdict.label.plain_words} (fake probability {verdict.probability_text()}, "
            f"{verdict.frames_above_threshold} of {verdict.frames_used} frames at or above "
            f"{threshold_text(verdict.threshold)})"
        )
    data = export.result_to_dict(result, file_name=path, config=config)
    if check_stability:
        stability_line, data["stability"] = _check_stability(result, path, scorer, config, detector)
        line = f"{line}\n{stability_line}"
    return line, data


def _run_scan(arguments: argparse.Namespace) -> int:
    from detector.analysis.scoring import load_scorer

    config = AnalysisConfig(
        frames_to_sample=arguments.frames,
        aggregation=arguments.aggregation,
        fake_threshold=arguments.threshold,
        uncertain_low=arguments.threshold,
    )
    scorer = load_scorer(arguments.models)
    if arguments.threshold is None:
        common.warn_unfitted(scorer)
    results: list[dict] = []
    failures = 0
    report_paths: list[Path | None] = [None] * len(arguments.videos)
    if arguments.report_path:
        from detector.outputs.report_files import report_paths as paths_for_reports

        report_paths = list(paths_for_reports(arguments.report_path, arguments.videos))
    annotate_paths: list[Path | None] = [None] * len(arguments.videos)
    if arguments.annotate_path:
        from detector.outputs.annotate import output_paths

        annotate_paths = list(output_paths(arguments.annotate_path, arguments.videos))
    from detector.analysis.faces import FaceDetector

    with FaceDetector(config.detector_model, config.min_face_confidence) as detector:
        for path, report_path, annotate_path in zip(arguments.videos, report_paths, annotate_paths, strict=True):
            try:
                line, data = _scan_one(path, scorer, config, detector, report_path, annotate_path, arguments.stability)
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


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Adds these commands to the command line."""
    _add_scan(subparsers).set_defaults(run=_run_scan)
