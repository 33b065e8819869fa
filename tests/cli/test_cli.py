"""The command line: `python -m detector scan` and `score-crops`, with the stable JSON keys."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pypdf
import pytest
from conftest import PROJECT, SAMPLE_VIDEOS, SHARED, requires_samples, requires_shared, requires_shipped_model
from video_factory import make_video, pasted_faces

from detector.cli import common
from detector.cli import main as cli
from detector.training import datasets

FACES = SHARED / "data" / "dfdc-faces" / "faces"


@pytest.fixture
def tiny(tiny_models_folder, monkeypatch):
    monkeypatch.setenv("DETECTOR_MODELS", str(tiny_models_folder))
    return tiny_models_folder


@pytest.fixture
def face_clip(tmp_path):
    face = datasets.read_image(FACES / "abplofmgwg.jpg", 160)
    return make_video(tmp_path / "face.mp4", frames=20, size=(400, 300), draw=pasted_faces([face]))


@requires_shared
def test_scan_prints_a_verdict_line_and_writes_the_stable_json(tiny, face_clip, tmp_path, capsys):
    out = tmp_path / "result.json"
    status = cli.main(["scan", str(face_clip), "--frames", "8", "--json", str(out)])
    assert status == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{face_clip}: ") and "fake probability" in line
    data = json.loads(out.read_text())
    assert {"file", "verdict", "fake_probability", "frames"} <= set(data)
    assert data["file"] == str(face_clip)
    assert data["verdict"] in ("FAKE", "REAL", "UNCERTAIN")
    assert len(data["frames"]) == 8
    first = data["frames"][0]
    assert {"index", "time", "faces"} <= set(first)
    assert {"box", "track", "fake_probability"} <= set(first["faces"][0])
    assert data["config"]["frames_to_sample"] == 8


@requires_shared
def test_scan_of_several_videos_writes_a_list_and_fails_for_the_unreadable_one(tiny, face_clip, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    out = tmp_path / "results.json"
    status = cli.main(["scan", str(face_clip), str(broken), "--frames", "4", "--json", str(out)])
    captured = capsys.readouterr()
    assert status == 1
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"{broken}: cannot analyse:")
    data = json.loads(out.read_text())
    assert [entry["file"] for entry in data] == [str(face_clip), str(broken)]
    assert data[1]["verdict"] is None and data[1]["fake_probability"] is None and data[1]["error"]


def test_scan_of_a_missing_model_is_one_clear_line(tiny, tmp_path, capsys):
    status = cli.main(["scan", str(tmp_path / "x.mp4"), "--model", "absent"])
    assert status == 1
    assert "no model named 'absent'" in capsys.readouterr().err


def test_every_command_runs_tensorflow_with_reused_tensor_memory(monkeypatch):
    monkeypatch.delenv(common.REUSE_TENSOR_MEMORY, raising=False)
    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])
    assert os.environ[common.REUSE_TENSOR_MEMORY] == "true"


def test_a_caller_can_keep_mallocs_tensor_memory(monkeypatch):
    monkeypatch.setenv(common.REUSE_TENSOR_MEMORY, "false")
    common.reuse_tensor_memory()
    assert os.environ[common.REUSE_TENSOR_MEMORY] == "false"


def _memory_statistics_line(reuse: bool, allocator_setting: str | None = None) -> str:
    """What a fresh process prints of TensorFlow's CPU memory statistics: ``peak N`` or ``no statistics``; with
    ``reuse`` it calls ``common.reuse_tensor_memory`` first, and ``allocator_setting`` is the environment's own
    value of the setting (None: unset). A fresh process: TensorFlow makes its allocator once."""
    program = (
        "from detector.cli import common\n"
        + ("common.reuse_tensor_memory()\n" if reuse else "")
        + "import tensorflow as tf\n"
        "x = tf.ones((256, 256))\n"
        "try:\n"
        "    print('peak', tf.config.experimental.get_memory_info('CPU:0')['peak'])\n"
        "except ValueError:\n"
        "    print('no statistics')\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != common.REUSE_TENSOR_MEMORY}
    if allocator_setting is not None:
        environment[common.REUSE_TENSOR_MEMORY] = allocator_setting
    completed = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT, capture_output=True, text=True, env=environment, check=True
    )
    return completed.stdout.strip().splitlines()[-1]


def test_reused_tensor_memory_is_the_allocator_tensorflow_counts():
    # Only TensorFlow's own allocator keeps statistics; malloc's has none. Some builds keep statistics whatever the
    # setting (seen: TensorFlow 2.21 on a machine with CUDA's libraries, statistics with the setting "false"); there
    # the statistics cannot tell the two allocators apart, and this test says so instead of passing.
    if _memory_statistics_line(reuse=False, allocator_setting="false") != "no statistics":
        pytest.skip("this TensorFlow keeps CPU memory statistics whatever the allocator: they cannot tell them apart")
    counted = _memory_statistics_line(reuse=True)
    assert counted.startswith("peak ") and int(counted.split()[1]) >= 256 * 256 * 4
    assert _memory_statistics_line(reuse=False) == "no statistics"


def test_unreadable_input_from_a_real_process_exits_non_zero_without_a_traceback(tiny, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    completed = subprocess.run(
        [sys.executable, "-m", "detector", "scan", str(empty)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert f"{empty}: cannot analyse:" in completed.stderr


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@requires_shared
def test_scan_writes_a_pdf_report_with_the_verdict_file_and_fingerprint(tiny, face_clip, tmp_path, capsys):
    out = tmp_path / "report.pdf"
    assert cli.main(["scan", str(face_clip), "--frames", "8", "--report", str(out)]) == 0
    captured = capsys.readouterr()
    words = captured.out.split(": ", 1)[1].split(" (")[0]
    assert words in ("Likely manipulated", "No sign of manipulation found", "Inconclusive")
    assert f"wrote the report {out}" in captured.err
    text = pdf_text(out.read_bytes())
    assert words in text and "face.mp4" in text and "Person 1: " in text
    assert hashlib.sha256(face_clip.read_bytes()).hexdigest() in text
    assert str(tmp_path) not in text, "the report names the file, not where it lies on this machine"
    assert "the heatmap shows where the model looked" in text


@requires_shared
def test_scan_of_several_videos_writes_one_html_report_each(tiny, face_clip, tmp_path):
    other = shutil.copy(face_clip, tmp_path / "other.mp4")
    out = tmp_path / "reports" / "check.html"
    out.parent.mkdir()
    assert cli.main(["scan", str(face_clip), str(other), "--frames", "4", "--report", str(out)]) == 0
    assert sorted(path.name for path in out.parent.iterdir()) == ["check-face.html", "check-other.html"]
    html = (out.parent / "check-other.html").read_text()
    assert "<strong>other.mp4</strong>" in html
    # The most suspicious faces come with where the model looked, and say what that is not.
    assert 'alt="where the model looked"' in html and "not proof of where the video was edited" in html


def test_scan_report_must_be_pdf_or_html(tiny, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["scan", str(tmp_path / "x.mp4"), "--report", str(tmp_path / "report.docx")])
    assert stop.value.code == 2
    assert "must end in .pdf or .html" in capsys.readouterr().err


@requires_shared
def test_score_crops_writes_file_label_probability(tiny, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nabplofmgwg.jpg,FAKE\naabqcugcpc.jpg,REAL\n")
    out = tmp_path / "scores.csv"
    assert cli.main(["score-crops", str(FACES), "--labels", str(labels), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(row["file"], row["label"]) for row in rows] == [("abplofmgwg.jpg", "FAKE"), ("aabqcugcpc.jpg", "REAL")]
    assert all(0.0 <= float(row["fake_probability"]) <= 1.0 for row in rows)
    assert "scored 2 crops with tiny" in capsys.readouterr().out


@requires_samples
@requires_shipped_model
def test_the_shipped_model_judges_every_sample_clip(tmp_path, monkeypatch):
    monkeypatch.delenv("DETECTOR_MODELS", raising=False)
    clips = sorted(SAMPLE_VIDEOS.glob("*.mp4"))
    out = tmp_path / "samples.json"
    assert cli.main(["scan", *map(str, clips), "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert len(results) == len(clips)
    for result in results:
        frames_with_face = sum(1 for frame in result["frames"] if frame["faces"])
        assert frames_with_face >= 28, result["file"]
        assert result["fake_probability"] is not None, result["file"]
        probabilities = [face["fake_probability"] for frame in result["frames"] for face in frame["faces"]]
        assert np.std(probabilities) < 0.5


@requires_shared
def test_scan_annotates_and_checks_stability(tiny, face_clip, tmp_path, capsys):
    import av

    out, annotated = tmp_path / "result.json", tmp_path / "annotated.mp4"
    arguments = ["scan", str(face_clip), "--frames", "8", "--annotate", str(annotated), "--stability"]
    assert cli.main([*arguments, "--json", str(out)]) == 0

    verdict_line, stability_line = capsys.readouterr().out.strip().splitlines()
    assert verdict_line.startswith(f"{face_clip}: ") and "fake probability" in verdict_line
    assert stability_line.startswith(f"{face_clip}: The verdict ")
    assert "after re-encoding at 300p, low quality" in stability_line
    stability = json.loads(out.read_text())["stability"]
    assert stability["sentence"] == stability_line.split(": ", 1)[1]
    assert stability["copy_size"] == [400, 300] and stability["frames_checked"] == 16
    assert stability["original_verdict"] in ("FAKE", "REAL", "UNCERTAIN")
    with av.open(str(annotated)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 400, 300)
        assert sum(1 for _ in container.decode(stream)) == 20  # every frame of the 20-frame clip


@requires_shared
def test_scan_judges_a_photo_and_annotates_it_as_a_png(tiny, tmp_path, capsys):
    from PIL import Image

    image = np.full((300, 400, 3), 90, np.uint8)
    image[70:230, 120:280] = datasets.read_image(FACES / "abplofmgwg.jpg", 160)
    photo = tmp_path / "portrait.jpg"
    Image.fromarray(image).save(photo, quality=92)
    clip_annotated = tmp_path / "out" / "annotated.mp4"
    clip_annotated.parent.mkdir()

    assert cli.main(["scan", str(photo), "--annotate", str(clip_annotated)]) == 0

    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{photo}: ") and "fake probability" in line and " of 1 frames at or above " in line
    assert [path.name for path in clip_annotated.parent.iterdir()] == ["annotated.png"]
    assert Image.open(clip_annotated.with_suffix(".png")).size == (400, 300)
