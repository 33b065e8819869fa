"""Ships a trained model: every step between a finished run and a model the page offers, in order.

    python -m scripts.ship_model NAME [--from runs/export] [--models-folder models]

1. copies ``NAME.keras`` and ``NAME.json`` from the run's export folder (``train --models-folder``) into the
   models folder; a model already shipped under that name is refused (the folder's git history keeps every
   version, and ``models/`` may hold 150 MB with its history: ship a model once, when it is final);
2. stores its weights in 8 bits (``python -m detector quantize``) when the float file is over 25 MB, which also
   measures that quality did not move and refits the calibration on the 8-bit weights;
3. measures it on every set of the generalisation benchmark (``python -m detector benchmark --record --video``:
   unseen real people, face swaps and reenactment proxies of held-out people, each FaceForensics++ method, and the
   clips, on which it fits a video's thresholds), which the page and the README show for every model; the sets
   are made once, in ``.cache/benchmark``;
4. refits the thresholds of every selection of several models (``python -m detector ensembles``): a test fails
   while ``models/ensembles.json`` does not match the shipped models.

Needs ``../shared`` (validation crops and UTKFace). Each step is the command line's own, logged as it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from detector.cli import main as cli
from detector.models import model_card

QUANTIZE_ABOVE_MEGABYTES = 25


@contextlib.contextmanager
def models_folder_for_commands(folder: Path) -> Iterator[None]:
    """``benchmark`` reads the models folder from the environment, as the page does: pointed at ``folder`` inside,
    put back as it was afterwards."""
    previous = os.environ.get("DETECTOR_MODELS")
    os.environ["DETECTOR_MODELS"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DETECTOR_MODELS", None)
        else:
            os.environ["DETECTOR_MODELS"] = previous


def ship(
    name: str,
    source: Path,
    folder: Path,
    run: Callable[[Sequence[str]], int] = cli.main,
) -> None:
    """The four steps above for model ``name`` from ``source`` into ``folder``; ``run`` runs one command line
    (``cli.main``) and each must succeed. Raises ``FileExistsError``, ``FileNotFoundError`` or ``RuntimeError``."""
    files = [source / f"{name}{suffix}" for suffix in (".keras", ".json")]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"not exported: {', '.join(missing)} (train writes them with --models-folder)")
    if (folder / f"{name}.json").exists():
        raise FileExistsError(f"{name!r} is already shipped in {folder}: give the new model a new name")
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, folder / path.name)

    def step(*arguments: str) -> None:
        print("python -m detector " + shlex.join(arguments), flush=True)
        if run(list(arguments)) != 0:
            raise RuntimeError(f"python -m detector {arguments[0]} failed for {name!r}")

    if (folder / f"{name}.keras").stat().st_size > QUANTIZE_ABOVE_MEGABYTES * 1e6:
        step("quantize", "--name", name, "--models-folder", str(folder))
    with models_folder_for_commands(folder):
        step("benchmark", "--model", name, "--record", "--video")
    step("ensembles", "--models-folder", str(folder))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--from", dest="source", default="runs/export", help="the run's export folder")
    parser.add_argument("--models-folder", default=str(model_card.MODELS_FOLDER), help="where models ship")
    arguments = parser.parse_args()
    folder = Path(arguments.models_folder)
    try:
        ship(arguments.name, Path(arguments.source), folder)
    except (FileExistsError, FileNotFoundError, RuntimeError) as error:
        print(f"ship_model: {error}", file=sys.stderr)
        return 1
    print(f"{arguments.name} shipped in {folder}: add it to the README's models table and commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
