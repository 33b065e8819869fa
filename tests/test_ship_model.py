"""scripts/ship_model.py: the steps between a finished run and a model the page offers, in order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts import ship_model


@pytest.fixture(autouse=True)
def _models_folder_restored(monkeypatch):
    """Shipping points evaluate at the models folder through the environment: undone after each test."""
    monkeypatch.delenv("DETECTOR_MODELS", raising=False)


def _exported(folder: Path, name: str, megabytes: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.keras").write_bytes(b"\0" * int(megabytes * 1e6))
    (folder / f"{name}.json").write_text("{}")
    return folder


@pytest.mark.parametrize(("megabytes", "quantized"), [(30.0, True), (1.0, False)])
def test_shipping_copies_quantizes_a_large_model_measures_the_benchmark_and_refits_the_selections(
    tmp_path, megabytes, quantized
):
    source = _exported(tmp_path / "export", "big", megabytes)
    folder = tmp_path / "models"
    commands: list[list[str]] = []

    def run(arguments):
        commands.append(list(arguments))
        if arguments[0] == "benchmark":
            assert os.environ["DETECTOR_MODELS"] == str(folder)
        return 0

    ship_model.ship("big", source, folder, run)
    assert "DETECTOR_MODELS" not in os.environ  # put back as it was
    assert (folder / "big.keras").stat().st_size == (source / "big.keras").stat().st_size
    assert (folder / "big.json").is_file()
    steps = [command[0] for command in commands]
    assert steps == (["quantize"] if quantized else []) + ["benchmark", "ensembles"]
    assert commands[-2] == ["benchmark", "--model", "big", "--record", "--video"]
    assert commands[-1] == ["ensembles", "--models-folder", str(folder)]


def test_shipping_refuses_a_name_already_shipped_and_a_model_not_exported(tmp_path):
    source = _exported(tmp_path / "export", "big", 0.001)
    folder = _exported(tmp_path / "models", "big", 0.001)
    with pytest.raises(FileExistsError, match="already shipped"):
        ship_model.ship("big", source, folder, run=lambda arguments: 0)
    with pytest.raises(FileNotFoundError, match="not exported"):
        ship_model.ship("other", source, folder, run=lambda arguments: 0)


def test_shipping_stops_at_the_first_failing_step(tmp_path):
    source = _exported(tmp_path / "export", "big", 0.001)
    commands = []
    with pytest.raises(RuntimeError, match="benchmark failed"):
        ship_model.ship(
            "big",
            source,
            tmp_path / "models",
            run=lambda arguments: commands.append(arguments) or 1,
        )
    assert len(commands) == 1
