"""Tests for detector/shipping/lite.py and the scorer's use of it: the TensorFlow Lite copy scores as the Keras
model does, the card records it, and the analysis then runs without TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT

from detector.analysis.scoring import FaceScorer, load_scorer
from detector.errors import ModelCardError
from detector.models import model_card
from detector.shipping import lite


def crops(count: int = 20, size: int = 224, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize(("source", "target", "block"), [(224, 128, (4, 7)), (224, 32, (1, 7)), (224, 100, None)])
def test_area_resize_weights_repeat_a_small_block_where_the_sizes_allow(source, target, block) -> None:
    matrix = lite.area_matrix(source, target)
    assert matrix.shape == (target, source)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)  # each output pixel is an average
    found = lite.periodic_block(matrix)
    if block is None:
        assert found is None or found.shape == matrix.shape
    else:
        assert found is not None and found.shape == block


@pytest.mark.parametrize("target", [128, 100])
def test_the_matrix_resize_equals_tensorflows_area_resize(target: int) -> None:
    import tensorflow as tf

    images = crops(3).astype(np.float32)
    rows = lite.area_matrix(224, target)
    resized = np.asarray(lite.MatrixResize(rows, rows)(images))
    expected = tf.image.resize(images, (target, target), method="area").numpy()
    np.testing.assert_allclose(resized, expected, atol=1e-3)


@pytest.fixture
def lite_folder(tiny_models_folder: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(tiny_models_folder, folder)
    lite.export("tiny", crops(), folder, checked_on="random pixels")
    return folder


def test_the_copy_is_recorded_in_the_card_and_scores_as_keras_does(lite_folder: Path) -> None:
    recorded = model_card.read_card("tiny", lite_folder).extra["tflite"]
    assert recorded["file"] == "tiny.tflite" and recorded["largest_difference"] <= lite.MAX_DIFFERENCE
    assert recorded["sha256"] == model_card.file_sha256(lite_folder / "tiny.tflite")
    assert recorded["checked_on"] == "20 face crops: random pixels"
    fast, keras_scorer = FaceScorer("tiny", lite_folder), FaceScorer("tiny", lite_folder, runtime="keras")
    assert fast.lite is not None and keras_scorer.lite is None
    images = crops(37, seed=1)  # not a multiple of the batch: the last batch is padded
    np.testing.assert_allclose(fast.score(images), keras_scorer.score(images), atol=1e-5)
    assert fast.model is not None  # the Keras model is still there for explanations, loaded when asked


def test_a_changed_copy_is_refused_and_a_missing_one_falls_back_to_keras(lite_folder: Path, caplog) -> None:
    copy = lite_folder / "tiny.tflite"
    copy.write_bytes(copy.read_bytes() + b"\0")
    with pytest.raises(ModelCardError, match="sha256"):
        FaceScorer("tiny", lite_folder)
    copy.unlink()
    scorer = FaceScorer("tiny", lite_folder)
    assert scorer.lite is None and "missing" in caplog.text
    assert scorer.score(crops(2)).shape == (2,)


def test_a_copy_that_differs_is_not_written(tiny_models_folder: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "models"
    shutil.copytree(tiny_models_folder, folder)
    monkeypatch.setattr(lite, "MAX_DIFFERENCE", -1.0)
    with pytest.raises(ModelCardError, match="differs"):
        lite.export("tiny", crops(4), folder)
    assert not (folder / "tiny.tflite").exists()
    assert "tflite" not in model_card.read_card("tiny", folder).extra


def test_scoring_with_the_copy_loads_no_tensorflow(lite_folder: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    code = (
        "import sys, json, numpy as np\n"
        "from pathlib import Path\n"
        "from detector.analysis.scoring import load_scorer\n"
        f"scorer = load_scorer('tiny', Path({str(lite_folder)!r}))\n"
        "scores = scorer.score(np.zeros((3, 224, 224, 3), np.uint8))\n"
        "print(json.dumps({'tensorflow': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules,"
        " 'count': len(scores)}))\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == {"tensorflow": False, "keras": False, "count": 3}


def test_load_scorer_passes_the_thread_limit_to_the_copies(lite_folder: Path) -> None:
    scorer = load_scorer("tiny", lite_folder, num_threads=1)
    assert scorer.scorers[0].lite is not None
    assert load_scorer("tiny", lite_folder, runtime="keras").scorers[0].lite is None


def test_every_shipped_compact_model_has_a_checked_copy() -> None:
    for name in model_card.available_models():
        card = model_card.read_card(name)
        if card.architecture.startswith(("compact", "average(compact")):
            recorded = card.extra.get("tflite")
            assert recorded, f"{name} has no TensorFlow Lite copy: run python -m detector lite --name {name}"
            assert recorded["largest_difference"] <= lite.MAX_DIFFERENCE
            assert model_card.file_sha256(model_card.models_folder() / recorded["file"]) == recorded["sha256"]
