"""scripts/ship_model.py: the steps between a finished run and a model the page offers, in order."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from conftest import requires_shared

from scripts import face_swap_labels, ship_model, utkface_labels


@pytest.fixture(autouse=True)
def _models_folder_restored(monkeypatch):
    """Shipping points evaluate at the models folder through the environment: undone after each test."""
    monkeypatch.delenv("DETECTOR_MODELS", raising=False)


def _small_swap_set(tmp_path: Path):
    """Stands in for ``ship_model.face_swap_set`` (which takes minutes): two labelled crops under ``tmp_path``,
    whatever folder it is asked for (the real one is in the machine's temporary folder, left alone)."""

    def make(folder: Path, people: str) -> Path:
        labels = tmp_path / people / "labels.csv"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text("file,label,group\na.real.jpg,REAL,a\na.swap-alpha.jpg,FAKE,a\n")
        return labels

    return make


def _exported(folder: Path, name: str, megabytes: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.keras").write_bytes(b"\0" * int(megabytes * 1e6))
    (folder / f"{name}.json").write_text("{}")
    return folder


@requires_shared
@pytest.mark.parametrize(("megabytes", "quantized"), [(30.0, True), (1.0, False)])
def test_shipping_copies_quantizes_a_large_model_records_unseen_reals_and_refits_the_selections(
    tmp_path, megabytes, quantized
):
    source = _exported(tmp_path / "export", "big", megabytes)
    folder = tmp_path / "models"
    commands: list[list[str]] = []

    def run(arguments):
        commands.append(list(arguments))
        if arguments[0] == "evaluate":
            assert os.environ["DETECTOR_MODELS"] == str(folder)
            labels = arguments[arguments.index("--labels") + 1]
            with open(labels, newline="") as handle:
                rows = list(csv.DictReader(handle))
            unseen_reals = arguments[arguments.index("--record") + 1] == "unseen_real_faces"
            if unseen_reals:
                assert len(rows) > 1000 and {row["label"] for row in rows} == {"REAL"}
            else:
                assert {row["label"] for row in rows} == {"REAL", "FAKE"}
        return 0

    ship_model.ship("big", source, folder, run, face_swaps=_small_swap_set(tmp_path))
    assert "DETECTOR_MODELS" not in os.environ  # put back as it was
    assert (folder / "big.keras").stat().st_size == (source / "big.keras").stat().st_size
    assert (folder / "big.json").is_file()
    steps = [command[0] for command in commands]
    assert steps == (["quantize"] if quantized else []) + ["evaluate"] * 3 + ["ensembles"]
    recorded = {command[command.index("--record") + 1]: command for command in commands[-4:-1]}
    assert set(recorded) == {"unseen_real_faces", "unseen_face_swaps", "dfdc_face_swaps"}
    described = {key: command[command.index("--describe") + 1] for key, command in recorded.items()}
    assert described["unseen_real_faces"] == utkface_labels.HELD_OUT_DESCRIPTION
    assert described["unseen_face_swaps"] == face_swap_labels.DESCRIPTIONS["utkface"]
    assert described["dfdc_face_swaps"] == face_swap_labels.DESCRIPTIONS["dfdc"]
    assert recorded["dfdc_face_swaps"][recorded["dfdc_face_swaps"].index("--crops") + 1] == str(tmp_path / "dfdc")
    assert commands[-1] == ["ensembles", "--models-folder", str(folder)]


def test_shipping_refuses_a_name_already_shipped_and_a_model_not_exported(tmp_path):
    source = _exported(tmp_path / "export", "big", 0.001)
    folder = _exported(tmp_path / "models", "big", 0.001)
    with pytest.raises(FileExistsError, match="already shipped"):
        ship_model.ship("big", source, folder, run=lambda arguments: 0, face_swaps=_small_swap_set(tmp_path))
    with pytest.raises(FileNotFoundError, match="not exported"):
        ship_model.ship("other", source, folder, run=lambda arguments: 0, face_swaps=_small_swap_set(tmp_path))


@requires_shared
def test_shipping_stops_at_the_first_failing_step(tmp_path):
    source = _exported(tmp_path / "export", "big", 0.001)
    commands = []
    with pytest.raises(RuntimeError, match="evaluate failed"):
        ship_model.ship(
            "big",
            source,
            tmp_path / "models",
            run=lambda arguments: commands.append(arguments) or 1,
            face_swaps=_small_swap_set(tmp_path),
        )
    assert len(commands) == 1
