"""Deepfake video checker: sample frames, find faces, score them, decide, explain.

The folders are the stages, lowest first (a folder imports only those below it; ``tests/test_layout.py`` checks):

- ``config``, ``types``, ``errors``: the configuration, the data that flows between stages, the errors a person sees;
- ``models/``: reading a trained model (its card, weights, calibration, thresholds fitted for several models);
- ``analysis/``: video -> sampled frames -> faces -> crops -> scores -> tracks -> verdict (``analysis.pipeline``);
- ``outputs/`` and ``training/``: what a result becomes for people (words, charts, reports, annotated video), and
  how a model is trained (data, augmentation, synthetic fakes, networks, the training loop);
- ``evaluation/``: measuring models and the whole checker on labelled data;
- ``shipping/``: turning a training run into a shipped model (calibration, thresholds, 8-bit weights, averages);
- ``cli/``: ``python -m detector``, the reviewer's ``scan`` and the developer's commands.

The public API, for the page, the command line, benchmarks and scripts::

    from detector import AnalysisConfig, FaceDetector, analyze, load_scorer

    scorer = load_scorer()                      # the default model (models/)
    with FaceDetector() as faces:
        result = analyze("clip.mp4", scorer, AnalysisConfig(), detector=faces)
    print(result.verdict.label, result.verdict.fake_probability, result.thresholds)

Importing ``detector`` loads nothing heavy: each name is imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# Name -> the module that defines it.
_PUBLIC = {
    "AnalysisConfig": "detector.config",
    "VideoResult": "detector.types",
    "Verdict": "detector.types",
    "VerdictLabel": "detector.types",
    "DecisionThresholds": "detector.types",
    "DetectorError": "detector.errors",
    "analyze": "detector.analysis.pipeline",
    "load_scorer": "detector.analysis.scoring",
    "EnsembleScorer": "detector.analysis.scoring",
    "FaceDetector": "detector.analysis.faces",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
