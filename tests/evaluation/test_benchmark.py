"""The benchmark's registry, and its command on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.cli import main as cli
from detector.evaluation import benchmark
from detector.training import sources


def test_every_set_has_its_own_key_a_description_and_says_whether_its_kind_is_trained_on():
    assert len(set(benchmark.SET_KEYS)) == len(benchmark.SETS)
    for item in benchmark.SETS:
        assert item.description and item.title and item.for_model((), frozenset()).in_training
        assert item.kind in (None, sources.FACE_SWAP, sources.REENACTMENT_PROXY, sources.FFPP_FAKES)
    assert {"unseen_real_faces", "unseen_face_swaps", "dfdc_face_swaps"} <= set(benchmark.SET_KEYS)
    assert {key for key in benchmark.SET_KEYS if key.startswith("ffpp_")} == {
        "ffpp_deepfakes",
        "ffpp_face2face",
        "ffpp_faceswap",
        "ffpp_neuraltextures",
    }
    assert any("reenactment" in key for key in benchmark.SET_KEYS)


def test_sets_are_chosen_by_key_and_an_unknown_one_is_named():
    assert benchmark.by_key(None) == benchmark.SETS
    assert [item.key for item in benchmark.by_key(["dfdc_face_swaps"])] == ["dfdc_face_swaps"]
    with pytest.raises(ValueError, match="nonsense"):
        benchmark.by_key(["nonsense"])


def test_whether_a_model_trained_on_a_sets_kind_is_said_for_that_model():
    swaps, reenacted, deepfakes, reals = (
        benchmark.by_key([key])[0]
        for key in ("unseen_face_swaps", "utkface_reenactments", "ffpp_deepfakes", "unseen_real_faces")
    )
    untrained = [item.for_model((), frozenset()) for item in (swaps, reenacted, deepfakes)]
    assert [item.in_training for item in untrained] == ["no", "no", "no"]
    assert untrained[0].description.endswith("; a method this model was not trained on")
    assert untrained[2].description.endswith("; this model was not trained on FaceForensics++")
    swap_run = frozenset({sources.FACE_SWAP, sources.FFPP_FAKES})
    trained_swaps, other_kind, methods = (item.for_model((), swap_run) for item in (swaps, reenacted, deepfakes))
    assert trained_swaps.in_training.startswith("yes: this generator")
    assert "measures what it learnt of the generator, not generalisation" in trained_swaps.description
    assert other_kind.in_training == "no"
    assert methods.in_training == "yes: these methods, on other groups"
    assert reals.for_model((), swap_run).in_training == "none: real faces only"
    assert "none of the models" not in " ".join(item.description for item in benchmark.SETS)


def _tiny_set(tmp_path: Path, calls: list | None = None) -> benchmark.BenchmarkSet:
    """A set whose writer draws four crops, two real and two fake, of two groups, g2 in the report half and g3 in
    the calibration half (each call noted in ``calls``)."""
    import cv2
    import numpy as np

    calls = [] if calls is None else calls

    def write(out: Path, cache: Path | None) -> dict[str, int]:
        calls.append(out)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for index in range(4):
            image = np.full((224, 224, 3), 40 * index, np.uint8)
            cv2.imwrite(str(out / f"{index}.png"), image)
            rows.append(f"{index}.png,{'FAKE' if index % 2 else 'REAL'},g{index // 2 + 2}")
        (out / "labels.csv").write_text("file,label,group\n" + "\n".join(rows) + "\n")
        return {"crops": 4}

    return benchmark.BenchmarkSet(
        "tiny_set", "Tiny", "four drawn crops", "tiny", "labels.csv", write, sources.FACE_SWAP
    )


def test_a_set_is_written_once_and_measured_with_intervals(tmp_path, tiny_models_folder, monkeypatch):
    from detector.analysis import pipeline
    from detector.analysis.scoring import load_scorer
    from detector.config import AnalysisConfig

    calls: list = []
    item = _tiny_set(tmp_path, calls)
    scorer = load_scorer(["tiny"], tiny_models_folder)
    thresholds = pipeline.decision_thresholds(AnalysisConfig(), scorer.thresholds)
    first = benchmark.measure_model(scorer, thresholds, [item], tmp_path, resamples=50)
    again = benchmark.measure_model(scorer, thresholds, [item], tmp_path, resamples=50)
    assert len(calls) == 1  # written the first time only
    level = first["tiny_set"]
    assert level.metrics["count"] == 4 and level.metrics["count_fake"] == 2
    assert again["tiny_set"].metrics == level.metrics
    row = benchmark.table_row("tiny", first)
    assert row["model"] == "tiny" and row["tiny_set"].startswith(f"{level.metrics['roc_auc']:.3f}")


def test_a_set_a_models_calibration_was_fitted_on_is_measured_on_its_report_half_only(tmp_path):
    import dataclasses

    from detector.shipping import calibrate

    item = dataclasses.replace(_tiny_set(tmp_path), calibration_source="ffpp")
    assert not item.for_model(("dfdc",)).report_half_only
    assert benchmark.crop_set(item, tmp_path).files == ("0.png", "1.png", "2.png", "3.png")
    halved = item.for_model(("dfdc", "ffpp"))
    assert halved.report_half_only and "report half" in halved.description
    kept = benchmark.crop_set(halved, tmp_path)
    assert kept.groups == ("g2", "g2") and not calibrate.in_calibration_half("g2")
    assert all(item.calibration_source == "ffpp" for item in benchmark.SETS if item.key.startswith("ffpp_"))


def test_the_command_records_every_set_in_the_card(tmp_path, tiny_models_folder, monkeypatch, capsys):
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_folder, folder)
    monkeypatch.setenv("DETECTOR_MODELS", str(folder))
    item = _tiny_set(tmp_path)
    monkeypatch.setattr(benchmark, "SETS", (item,))
    monkeypatch.setattr(benchmark, "SET_KEYS", ("tiny_set",))
    code = cli.main(
        ["benchmark", "--model", "tiny", "--folder", str(tmp_path / "sets"), "--record", "--resamples", "20"]
    )
    assert code == 0
    card = json.loads((folder / "tiny.json").read_text())
    assert card["metrics"]["tiny_set"]["data"] == "four drawn crops; a method this model was not trained on"
    assert card["metrics"]["tiny_set"]["count"] == 4
    assert "--set tiny_set" in card["metrics"]["tiny_set"]["command"]
    assert card["metrics"]["tiny_set_decisions"]["trained_on_this_kind"] == "no"
    out = capsys.readouterr().out
    assert "Tiny (tiny_set)" in out and "trained on this kind: no" in out


def test_the_unseen_people_are_also_counted_group_by_group_in_the_card(tmp_path, tiny_models_folder, monkeypatch):
    import shutil

    import cv2
    import numpy as np

    def write(out: Path, cache: Path | None) -> dict[str, int]:
        out.mkdir(parents=True, exist_ok=True)
        names = [f"{20 + 10 * index}_{index % 2}_{index % 5}_2017.jpg" for index in range(8)]
        for index, name in enumerate(names):
            cv2.imwrite(str(out / name), np.random.default_rng(index).integers(0, 255, (200, 200, 3), np.uint8))
        (out / "labels.csv").write_text("file,label\n" + "".join(f"{name},REAL\n" for name in names))
        return {"photos": 8}

    people = benchmark.BenchmarkSet(
        "tiny_people", "Tiny people", "eight drawn photos", "people", "labels.csv", write, None, by_group=True
    )
    assert [item.key for item in benchmark.SETS if item.by_group] == ["unseen_real_faces"]
    folder = tmp_path / "models"
    shutil.copytree(tiny_models_folder, folder)
    monkeypatch.setenv("DETECTOR_MODELS", str(folder))
    monkeypatch.setattr(benchmark, "SETS", (people,))
    monkeypatch.setattr(benchmark, "SET_KEYS", ("tiny_people",))
    assert (
        cli.main(["benchmark", "--model", "tiny", "--folder", str(tmp_path / "sets"), "--record", "--resamples", "20"])
        == 0
    )
    metrics = json.loads((folder / "tiny.json").read_text())["metrics"]
    groups = metrics["tiny_people_groups"]
    called_fake = round(metrics["tiny_people_decisions"]["false_positive_rate"] * 8)
    for grouping in ("gender", "ethnicity", "age", "sharpness"):
        assert sum(group["count"] for group in groups[grouping]) == 8
        assert sum(group["called_fake"] for group in groups[grouping]) == called_fake
    assert [group["group"] for group in groups["gender"]] == ["male", "female"]
    assert "--set tiny_people" in groups["command"]
