"""The shape of the library: stages as folders, imports in one direction, modules a person can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT

from scripts import import_graph

MAX_MODULE_LINES = 500


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph.import_graph()


def test_the_import_graph_has_no_circle(graph):
    assert import_graph.cycles(graph) == []


def test_no_import_runs_sideways_or_back_up(graph):
    assert import_graph.upward_imports(graph) == []


def test_every_module_is_in_a_layer(graph):
    for module in graph:
        import_graph.layer_of(module)


def test_the_graph_finds_circles_and_upward_imports():
    # The checks above pass only if these can fail: a made-up graph with both faults.
    made_up = {
        "detector.analysis.video": {"detector.analysis.faces"},
        "detector.analysis.faces": {"detector.analysis.video", "detector.outputs.charts"},
        "detector.outputs.charts": {"detector.types"},
        "detector.types": set(),
    }
    assert import_graph.cycles(made_up) == [["detector.analysis.faces", "detector.analysis.video"]]
    assert import_graph.upward_imports(made_up) == [("detector.analysis.faces", "detector.outputs.charts")]


def test_lazy_imports_and_relative_imports_count(tmp_path):
    package = tmp_path / "detector"
    (package / "analysis").mkdir(parents=True)
    (package / "outputs").mkdir()
    for init in (package, package / "analysis", package / "outputs"):
        (init / "__init__.py").write_text("")
    (package / "analysis" / "video.py").write_text("def later():\n    from detector.outputs import charts\n")
    (package / "outputs" / "charts.py").write_text("from ..analysis import video\n")
    graph = import_graph.import_graph(package)
    # Importing a module runs its package's __init__ first: the package counts as imported too.
    assert graph["detector.analysis.video"] == {"detector.outputs.charts", "detector.outputs"}
    assert graph["detector.outputs.charts"] == {"detector.analysis.video", "detector.analysis"}


def test_a_package_that_imports_the_modules_that_import_it_is_a_circle(tmp_path):
    package = tmp_path / "detector"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text("from detector.cli import user\n")
    (package / "cli" / "common.py").write_text("")
    (package / "cli" / "user.py").write_text("from detector.cli import common\n")
    graph = import_graph.import_graph(package)
    assert import_graph.cycles(graph) == [["detector.cli", "detector.cli.user"]]
    # A module's own package is no import running sideways.
    assert import_graph.upward_imports(graph) == []


def test_the_stages_are_folders():
    folders = {path.name for path in (PROJECT / "detector").iterdir() if (path / "__init__.py").is_file()}
    assert {"models", "analysis", "outputs", "training", "evaluation", "shipping", "archive", "cli"} <= folders


def test_no_module_is_longer_than_a_person_reads_at_once():
    long = {
        str(path.relative_to(PROJECT)): count
        for path in [*PROJECT.glob("detector/**/*.py"), *PROJECT.glob("page/*.py"), PROJECT / "streamlit_app.py"]
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_library_never_imports_streamlit(graph):
    for path in (PROJECT / "detector").rglob("*.py"):
        assert "import streamlit" not in path.read_text(), path


def _modules_loaded_by(code: str) -> set[str]:
    ran = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(ran.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import detector",
        "from detector.cli import main; main.build_parser()",
        "from detector.analysis import aggregation",
    ],
)
def test_importing_the_package_or_building_the_command_line_stays_cheap(code):
    heavy = {"tensorflow", "keras", "plotly", "cv2", "av", "fpdf", "sklearn", "streamlit"}
    assert _modules_loaded_by(code) & heavy == set()


def test_the_public_api_names_what_the_page_and_command_line_use():
    import detector

    for name in detector.__all__:
        assert getattr(detector, name) is not None, name
    assert Path(detector.analyze.__code__.co_filename).name == "pipeline.py"
