"""``python -m detector evaluate`` and ``detector.evaluation``: crop and video levels, the report, the plots.

The tiny untrained model makes the plumbing run; the numbers are checked against ``detector.metrics`` directly.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil

import numpy as np
import pytest
from conftest import SHARED, requires_shared
from video_factory import make_video, pasted_faces

from detector.analysis.scoring import load_scorer
from detector.cli import main as cli
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.evaluation import evaluate, metrics
from detector.models import model_card
from detector.outputs import model_facts
from detector.training import datasets

FACES = SHARED / "data" / "dfdc-faces" / "faces"
LABELS = SHARED / "data" / "dfdc-faces" / "labels.csv"


@pytest.fixture
def tiny(tiny_models_folder, monkeypatch):
    monkeypatch.setenv("DETECTOR_MODELS", str(tiny_models_folder))
    return tiny_models_folder


def few_crops(path, per_class: int = 8) -> list[dict[str, str]]:
    """The first ``per_class`` fake and real DFDC crops, with their group, written as a label file."""
    chosen, counts = [], {"FAKE": 0, "REAL": 0}
    with LABELS.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if counts[row["label"]] < per_class:
                counts[row["label"]] += 1
                chosen.append({"file": row["file"], "label": row["label"], "group": row["group"]})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "group"])
        writer.writeheader()
        writer.writerows(chosen)
    return chosen


def test_measure_gives_metrics_intervals_and_decisions_that_agree():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    probabilities = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    measured, intervals, decisions = evaluate.measure(labels, probabilities, 0.6, 0.4, resamples=100)
    assert measured == metrics.classification_metrics(labels, probabilities, 0.6)
    assert set(intervals) == set(metrics.INTERVAL_METRICS)
    assert intervals["roc_auc"]["low"] <= measured["roc_auc"] <= intervals["roc_auc"]["high"]
    assert decisions == metrics.decision_rates(labels, probabilities, 0.6, 0.4)


@requires_shared
def test_evaluate_crops_writes_a_report_with_every_key_and_the_plots(tiny, tmp_path, capsys):
    labels_file = tmp_path / "labels.csv"
    chosen = few_crops(labels_file)
    report_file, plots = tmp_path / "report.json", tmp_path / "plots"
    argv = ["evaluate", "--crops", str(FACES), "--labels", str(labels_file), "--report", str(report_file)]
    status = cli.main([*argv, "--plots", str(plots), "--resamples", "50", "--seed", "7"])
    assert status == 0
    printed = capsys.readouterr().out
    assert printed.startswith("crop: 16 measured; ROC AUC ")

    report = json.loads(report_file.read_text())
    assert {"command", "created", "models", "probabilities", "thresholds", "bootstrap", "crop"} <= set(report)
    assert "video" not in report
    assert report["command"].startswith("python -m detector evaluate --crops ")
    card = model_card.read_card("tiny", tiny)
    assert report["models"] == [
        {
            "name": "tiny",
            "version": card.version,
            "architecture": "compact",
            "sha256": card.sha256,
            "thresholds": {"fake": 0.5, "uncertain_low": 0.5, "chosen_on": card.thresholds.chosen_on},
            "calibration": None,
        }
    ]
    assert report["bootstrap"] == {"method": "percentile", "resamples": 50, "seed": 7, "confidence": 0.95}
    crop = report["crop"]
    assert crop["data"]["count"] == 16 and crop["data"]["count_fake"] == 8
    assert crop["data"]["groups"] == len({row["group"] for row in chosen})
    assert crop["data"]["resampled_by"].startswith("group")
    assert set(crop["metrics"]) >= {"roc_auc", "log_loss", "equal_error_rate", "expected_calibration_error"}
    assert set(crop["confidence_intervals"]) == set(metrics.INTERVAL_METRICS)
    assert {"false_positive_rate", "false_negative_rate", "uncertain_share"} <= set(crop["decisions"])

    # The numbers are those of the model's own scores of the same crops.
    scorer = load_scorer("tiny", tiny)
    crops = datasets.read_labels(labels_file, FACES)
    probabilities = scorer.score(datasets.decode_images(FACES, crops.files, 224))
    expected = metrics.classification_metrics(crops.labels, probabilities, 0.5)
    assert crop["metrics"]["log_loss"] == pytest.approx(expected["log_loss"])
    assert crop["metrics"]["roc_auc"] == pytest.approx(expected["roc_auc"])
    interval = crop["confidence_intervals"]["log_loss"]
    assert interval["low"] <= expected["log_loss"] <= interval["high"]

    for name in ("roc.html", "reliability.html"):
        html = (plots / name).read_text()
        assert "crop: " in html  # the trace's legend name
        assert len(html) > 1_000_000  # plotly.js is inside: the file opens without a network


@requires_shared
def test_video_level_counts_abstentions_and_leaves_them_out_of_the_metrics(tiny_models_folder, tmp_path):
    faces = [datasets.read_image(FACES / name, 160) for name in ("abplofmgwg.jpg", "aabqcugcpc.jpg")]
    make_video(tmp_path / "fake.mp4", frames=12, size=(400, 300), draw=pasted_faces([faces[0]]))
    make_video(tmp_path / "real.mp4", frames=12, size=(400, 300), draw=pasted_faces([faces[1]]))
    make_video(
        tmp_path / "empty.mp4",
        frames=12,
        size=(320, 240),
        draw=lambda number, width, height: np.full((height, width, 3), 120, np.uint8),
    )
    (tmp_path / "broken.mp4").write_text("not a video")
    (tmp_path / "videos.csv").write_text("file,label\nfake.mp4,FAKE\nreal.mp4,REAL\nempty.mp4,REAL\nbroken.mp4,FAKE\n")
    videos = datasets.read_labels(tmp_path / "videos.csv", tmp_path)
    scorer = load_scorer("tiny", tiny_models_folder)
    level = evaluate.evaluate_videos(videos, scorer, AnalysisConfig(frames_to_sample=6), resamples=20)
    assert level.ids == ("fake.mp4", "real.mp4")
    assert level.labels.tolist() == [1, 0]
    assert level.abstentions == ("empty.mp4",)
    assert [error["file"] for error in level.errors] == ["broken.mp4"]
    assert (level.data["videos"], level.data["count"], level.data["abstentions"], level.data["errors"]) == (4, 2, 1, 1)
    assert level.metrics["count"] == 2
    # Two measured videos: the ROC AUC is whether the fake one scored above the real one.
    fake_score, real_score = level.probabilities
    expected = 1.0 if fake_score > real_score else 0.5 if fake_score == real_score else 0.0
    assert level.metrics["roc_auc"] == expected
    report = level.to_dict()
    assert report["abstentions"]["count"] == 1 and "excluded from the metrics" in report["abstentions"]["note"]
    per_video = report["per_video"]
    assert [video["file"] for video in per_video] == ["fake.mp4", "real.mp4", "empty.mp4", "broken.mp4"]
    assert [video["fake_probability"] for video in per_video[:2]] == pytest.approx(level.probabilities.tolist())
    assert per_video[2] == {"file": "empty.mp4", "label": "REAL", "verdict": "UNCERTAIN", "fake_probability": None}
    assert per_video[3]["verdict"] is None


def test_evaluate_without_data_is_a_usage_error(tiny, capsys):
    assert cli.main(["evaluate", "--crops", "somewhere"]) == 2
    assert "--labels" in capsys.readouterr().err


@requires_shared
def test_evaluate_records_its_measurement_in_the_card_and_the_page_can_read_it(tiny_models_folder, tmp_path, capsys):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    labels_file = tmp_path / "labels.csv"
    reals = [row for row in few_crops(labels_file) if row["label"] == "REAL"]
    with labels_file.open("w", newline="") as handle:  # real faces only: ROC AUC is not defined
        writer = csv.DictWriter(handle, fieldnames=["file", "label"])
        writer.writeheader()
        writer.writerows({"file": row["file"], "label": "REAL"} for row in reals)
    before = model_card.read_card("tiny", tmp_path)
    argv = ["evaluate", "--crops", str(FACES), "--labels", str(labels_file), "--model", "tiny", "--resamples", "20"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DETECTOR_MODELS", str(tmp_path))
        assert cli.main([*argv, "--record", "some_reals", "--describe", "eight DFDC real crops"]) == 0
    assert f"recorded as metrics.some_reals in {tmp_path / 'tiny.json'}" in capsys.readouterr().out

    card = model_card.read_card("tiny", tmp_path)
    assert card.sha256 == before.sha256 and card.metrics["validation"] == before.metrics["validation"]
    recorded = card.metrics["some_reals"]
    assert recorded["count"] == recorded["count_real"] == len(reals) and recorded["unit"] == "face crops"
    # Real faces only: no ROC AUC, and no accuracy (it would be one minus the false-positive rate).
    assert "roc_auc" not in recorded and "accuracy" not in recorded and recorded["log_loss"] > 0
    assert recorded["data"] == "eight DFDC real crops" and recorded["measured_by"] == "python -m detector evaluate"
    assert recorded["command"].startswith("python -m detector evaluate --crops ")
    assert card.metrics["some_reals_intervals"]["method"].endswith("by crop (no group column), seed 0, 95%")
    assert "accuracy" not in card.metrics["some_reals_intervals"]
    decisions = card.metrics["some_reals_decisions"]
    assert decisions["count"] == len(reals)
    assert decisions["false_positive_rate"] == pytest.approx(decisions["count_called_fake"] / len(reals))
    # With real faces only, a FAKE call is wrong by construction: no precisions.
    assert "precision_fake" not in decisions and "precision_real" not in decisions
    lines = model_facts.metric_lines(card.metrics)
    assert any(line.startswith("Some reals, measured on eight DFDC real crops (8 face crops") for line in lines)
    assert not any("--record" in line for line in lines)  # the command stays in the card, off the page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--record", "unseen"], "needs --describe"),
        (["--describe", "reals"], "--describe goes with --record"),
        (["--record", "validation", "--describe", "x"], "plain name"),
        (["--record", "unseen_decisions", "--describe", "x"], "plain name"),
        (["--record", "unseen", "--describe", "x", "--model", "tiny"], "exactly one --model"),
        (["--record", "unseen", "--describe", "x", "--videos", "v.csv"], "not both"),
    ],
)
def test_evaluate_refuses_a_record_it_cannot_make_honestly(tiny, extra, message, capsys):
    argv = ["evaluate", "--crops", "faces", "--labels", "labels.csv", "--model", "tiny", *extra]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_record_is_refused_when_the_card_changed_during_the_measurement(tiny_models_folder, tmp_path):
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_folder / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    card = model_card.read_card("tiny", tmp_path)
    changed = dataclasses.replace(card, description="retrained meanwhile")
    model_card.write_card(changed, tmp_path)
    with pytest.raises(DetectorError, match="changed while it was measured"):
        evaluate.record_in_card(card, {"unseen": {"log_loss": 0.3}}, tmp_path)
    assert model_card.read_card("tiny", tmp_path) == changed


@requires_shared
@pytest.mark.slow
def test_evaluate_on_the_report_half_reproduces_a_shipped_cards_validation_numbers(tmp_path, capsys):
    from scripts import validation_labels

    card = model_card.read_card("compact_v1", model_card.MODELS_FOLDER)
    labels_file, report_file = tmp_path / "report_half.csv", tmp_path / "report.json"
    percent = str(card.training.get("validation_percent", 15))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["validation_labels", str(labels_file), "--half", "report", "--percent", percent])
        validation_labels.main()
    argv = ["evaluate", "--crops", str(FACES), "--labels", str(labels_file), "--model", "compact_v1"]
    assert cli.main([*argv, "--report", str(report_file), "--resamples", "200"]) == 0
    crop = json.loads(report_file.read_text())["crop"]
    validation, decisions = card.metrics["validation"], card.metrics["decisions"]
    assert crop["data"]["count"] == validation["count"] == card.metrics["validation_split"]["report_count"]
    names = ("roc_auc", "log_loss", "expected_calibration_error", "balanced_accuracy", "equal_error_rate", "accuracy")
    for name in (*names, "average_precision"):
        assert crop["metrics"][name] == pytest.approx(validation[name], abs=2e-3), name
    for name in ("false_positive_rate", "false_negative_rate", "uncertain_share", "precision_fake", "precision_real"):
        assert crop["decisions"][name] == pytest.approx(decisions[name], abs=2e-3), name
