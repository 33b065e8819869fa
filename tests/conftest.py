"""Shared fixtures: where the shared data is, and tiny untrained models for plumbing tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(os.environ.get("DETECTOR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SAMPLE_VIDEOS = SHARED / "samples" / "videos"
PROJECT = Path(__file__).resolve().parents[1]

requires_shared = pytest.mark.skipif(
    not (SHARED / "data" / "dfdc-faces" / "labels.csv").is_file(),
    reason=f"shared data not found at {SHARED} (clone the project next to ../shared or set DETECTOR_SHARED)",
)
requires_samples = pytest.mark.skipif(
    not (SAMPLE_VIDEOS / "labels.csv").is_file(), reason=f"sample videos not found at {SAMPLE_VIDEOS}"
)


def shipped_models() -> list[str]:
    from detector.models import model_card

    return model_card.available_models(model_card.MODELS_FOLDER)


requires_shipped_model = pytest.mark.skipif(
    not shipped_models(), reason="no trained model in models/ (train one: see README)"
)


def balanced_validation_crops(per_class: int = 40):
    """The first ``per_class`` fake and real crops of the DFDC validation split (enough for both halves)."""
    import numpy as np

    from detector.training import datasets

    _, validation = datasets.split_by_group(datasets.load_dfdc_faces(), 15)
    keep = np.zeros(len(validation), bool)
    for label in (0, 1):
        keep[np.flatnonzero(validation.labels == label)[:per_class]] = True
    return validation.subset(keep)


@pytest.fixture(scope="session")
def tiny_models_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding ``tiny``: an untrained compact model (224 px input) with a valid card."""
    from detector.shipping import ship
    from detector.training import architectures

    folder = tmp_path_factory.mktemp("models")
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    ship.save_with_card(
        model,
        "tiny",
        folder,
        "compact",
        "untrained model for plumbing tests",
        training={"data": "none: random weights", "fakes": "dfdc"},
        measured={"validation": {"note": "untrained: not measured"}},
    )
    return folder


def two_models_folder(folder: Path, tiny_models_folder: Path) -> Path:
    """``folder`` with two untrained models, ``tiny`` (copied) and ``other`` (other weights): a selection of two."""
    from detector.shipping import ship
    from detector.training import architectures

    folder.mkdir(parents=True)
    for suffix in (".keras", ".json"):
        (folder / f"tiny{suffix}").write_bytes((tiny_models_folder / f"tiny{suffix}").read_bytes())
    other = architectures.build_classifier("compact", input_size=224, resolution=32, dropout=0.1)
    ship.save_with_card(other, "other", folder, "compact", "second untrained model", {"data": "none"}, {})
    return folder


def make_result(probabilities_by_track: dict[int, list[float | None]], fake_threshold: float = 0.5):
    """A VideoResult with one frame per list position, 0.5 s apart; ``None`` means no face of that person there."""
    import numpy as np

    from detector.analysis import aggregation
    from detector.types import DecisionThresholds, FaceBox, FaceScore, FrameRecord, Track, VideoInfo, VideoResult

    frame_total = max(len(values) for values in probabilities_by_track.values()) if probabilities_by_track else 4
    frames, per_track, crops = [], {}, {}
    for position in range(frame_total):
        faces = []
        for track_id, values in probabilities_by_track.items():
            if position < len(values) and values[position] is not None:
                box = FaceBox(100.0 + 200 * track_id, 50.0, 80.0, 90.0, 0.9)
                score = FaceScore(position * 15, position * 0.5, box, track_id, values[position])
                faces.append(score)
                per_track.setdefault(track_id, []).append(score)
                crops[(position * 15, track_id)] = np.full((224, 224, 3), position, np.uint8)
        frames.append(FrameRecord(position * 15, position * 0.5, tuple(faces)))
    tracks = tuple(
        Track(
            track_id,
            tuple(scores),
            aggregation.decide([s.fake_probability for s in scores], "mean", fake_threshold, fake_threshold, 2),
        )
        for track_id, scores in sorted(per_track.items())
    )
    verdict = aggregation.decide_video(tracks, "mean", fake_threshold, fake_threshold, "No face was found.")
    info = VideoInfo("clip.mp4", 1000, 640, 360, 30.0, frame_total * 15, frame_total * 0.5, codec="h264")
    thresholds = DecisionThresholds(fake_threshold, fake_threshold, "chosen for this test")
    return VideoResult(info, ("tiny",), tuple(frames), tracks, verdict, thresholds, {"total": 1.0}, (), crops)
