"""Tests for detector/report.py and its renderers (report_html.py, report_pdf.py): what a shared report says."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pypdf
import pytest
from conftest import make_result

from detector.config import AnalysisConfig
from detector.models import model_card
from detector.outputs import report, report_files, report_html, report_pdf
from detector.types import DecisionThresholds, VerdictLabel

SHA256 = hashlib.sha256(b"the video").hexdigest()
NOW = datetime.datetime(2025, 6, 1, 12, 30, tzinfo=datetime.UTC)
NON_LATIN = "Интервью 视频.mp4"


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace collapsed (lines wrap where the layout says)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture(scope="module")
def tiny_card(tiny_models_folder: Path) -> model_card.ModelCard:
    return model_card.read_card("tiny", tiny_models_folder)


@pytest.fixture
def two_people():
    """Person 1 looks real in 8 frames (one gap); Person 2 looks fake in 7 of 8 (one gap)."""
    return make_result(
        {
            0: [0.1, 0.2, None, 0.15, 0.1, 0.05, 0.2, 0.1, 0.1],
            1: [0.9, 0.8, 0.95, 0.85, None, 0.7, 0.9, 0.3, 0.99],
        }
    )


def build(result, card, file_name: str = "<script>.mp4", **changes) -> report.Report:
    arguments = {"size_bytes": 12_345_678, "sha256": SHA256, "generated_at": NOW, **changes}
    return report.build_report(result, [card], AnalysisConfig(), file_name, **arguments)


def test_build_report_gathers_file_sampling_models_and_verdicts(two_people, tiny_card) -> None:
    content = build(two_people, tiny_card)
    assert content.file_name == "<script>.mp4"
    assert content.sha256 == SHA256 and content.size_text == "12.3 MB (12,345,678 bytes)"
    assert content.generated_text == "2025-06-01 12:30 UTC"
    assert content.frames_sampled == 9 and content.frames_with_face == 9
    assert content.sampling == "9 of 135 frames (evenly spaced)"
    assert content.resolution == "640 × 360 pixels" and content.video_format == "H.264"
    assert content.verdict_label is VerdictLabel.FAKE
    assert content.verdict_headline.startswith("Likely manipulated — fake probability 0.")
    assert content.verdict_reason.startswith("Person 2: ")
    # The most suspicious person first, with the frames that agree with their verdict.
    assert [person.summary for person in content.people] == [
        "Person 2: Likely manipulated, in 7 of 8 frames",
        "Person 1: No sign of manipulation found, in 8 of 8 frames",
    ]
    assert content.people[0].detail.startswith("Fake probability 0.")
    [model] = content.models
    assert (model.name, model.keras_version, model.weights_sha256) == (
        "tiny",
        tiny_card.keras_version,
        tiny_card.sha256,
    )
    assert (content.fake_threshold, content.uncertain_low) == (0.5, 0.5)
    assert content.limitations == tiny_card.limitations
    assert "DFDC" in content.scope_note and "evidence, not proof" in content.scope_note


def test_faces_are_the_six_most_suspicious_per_person_with_an_overlay_hook(tiny_card) -> None:
    result = make_result({0: [0.1 * index for index in range(10)], 1: [0.9, 0.2]})
    overlay = np.full((224, 224, 3), 7, np.uint8)
    content = build(result, tiny_card, overlays={(9 * 15, 0): overlay})
    person_1 = next(person for person in content.people if person.track_id == 0)
    assert [face.fake_probability for face in person_1.faces] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert person_1.faces_total == 10
    assert person_1.faces[0].overlay is overlay and all(face.overlay is None for face in person_1.faces[1:])
    assert person_1.faces[0].caption == "0.90 at 4.5 s"
    assert len(content.faces) == 6 + 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sha256": "abc"}, "64 hexadecimal"),
        ({"sha256": "g" * 64}, "64 hexadecimal"),
        ({"size_bytes": -1}, "size_bytes"),
        ({"generated_at": datetime.datetime(2025, 6, 1)}, "time zone"),
    ],
)
def test_build_report_rejects_bad_arguments(two_people, tiny_card, changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        build(two_people, tiny_card, **changes)


def test_build_report_needs_a_model_card(two_people) -> None:
    with pytest.raises(ValueError, match="model card"):
        report.build_report(two_people, [], AnalysisConfig(), "a.mp4", 1, SHA256)


def test_html_is_self_contained_and_escapes_the_file_name(two_people, tiny_card) -> None:
    content = build(two_people, tiny_card)
    page = report_files.to_html(content)
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;.mp4" in page and "<script>" not in page.lower()
    assert "Likely manipulated" in page and "No sign of manipulation found" in page
    assert SHA256 in page and tiny_card.sha256 in page
    for person in ("Person 1", "Person 2"):
        assert f'data-person="{person}"' in page and f"{person}: " in page
    # Everything is inline: every image is a data URI, nothing is fetched from anywhere.
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(content.faces) and all(src.startswith("data:image/png;base64,") for src in sources)
    assert "<link" not in page and "url(" not in page


def test_pdf_holds_verdict_file_name_sha256_and_people(two_people, tiny_card) -> None:
    data = report_files.to_pdf(build(two_people, tiny_card, file_name="interview.mp4"))
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "Likely manipulated" in text and "interview.mp4" in text and SHA256 in text
    assert "Person 1: No sign of manipulation found, in 8 of 8 frames" in text
    assert "Person 2: Likely manipulated, in 7 of 8 frames" in text
    assert "evidence, not proof" in text
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages[0].images) >= 1


@pytest.mark.parametrize("unicode_fonts", [True, False])
def test_pdf_of_a_non_latin_file_name(two_people, tiny_card, unicode_fonts: bool) -> None:
    content = build(two_people, tiny_card, file_name=NON_LATIN)
    text = pdf_text(report_pdf.to_pdf(content, unicode_fonts=unicode_fonts))
    assert SHA256 in text and "Likely manipulated" in text
    if unicode_fonts and report_pdf.find_font(report_pdf.FONT_CANDIDATES[0][1:]):
        assert "Интервью" in text  # DejaVu Sans has Cyrillic; its missing CJK glyphs print as "?"
    else:
        assert "???????? ??.mp4" in text
    assert NON_LATIN in report_files.to_html(content)


def test_report_of_a_video_without_faces(tiny_card) -> None:
    content = build(make_result({}), tiny_card)
    assert content.people == () and content.chart.series == () and content.verdict_label is VerdictLabel.UNCERTAIN
    assert "nothing to plot" in report_files.to_html(content)
    text = pdf_text(report_files.to_pdf(content))
    assert "Inconclusive" in text and "nothing to plot" in text


def test_a_photo_report_states_no_length_nor_frame_rate(tiny_card) -> None:
    result = make_result({0: [0.9]})
    photo_info = dataclasses.replace(result.info, container="jpeg", fps=1.0, frame_count=1, duration_seconds=0.0)
    photo = dataclasses.replace(result, info=photo_info)
    facts = dict(build(photo, tiny_card).file_facts())
    assert "Length" not in facts and "Frames examined" not in facts
    assert facts["Picture"] == "photo, 640 × 360 pixels"
    assert facts["Examined"] == "the whole photo; a face to judge was found"
    text = pdf_text(report_files.to_pdf(build(photo, tiny_card)))
    assert "frames per second" not in text and "the whole photo" in text
    assert "frames per second" not in report_files.to_html(build(photo, tiny_card))
    video_facts = dict(build(result, tiny_card).file_facts())
    assert video_facts["Length"] == "0.5 seconds" and "frames per second" in video_facts["Picture"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("café.mp4", "café.mp4"),
        ("a — “b” …", 'a - "b" ...'),
        ("Dvořák łódź", "Dvorák ?ódz"),
        ("视频", "??"),
        ("tab\there", "tab?here"),
    ],
)
def test_printable_text_in_latin_1(text: str, expected: str) -> None:
    assert report_pdf.printable_text(text, report_pdf._latin1) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1, 0.2, 0.3], [[(0.0, 0.1), (1.0, 0.2), (2.0, 0.3)]]),
        ([0.1, None, 0.3], [[(0.0, 0.1)], [(2.0, 0.3)]]),
        ([None, None, None], []),
        ([None, 0.5, 0.6], [[(1.0, 0.5), (2.0, 0.6)]]),
    ],
)
def test_line_segments_break_at_gaps(values, expected) -> None:
    assert report.line_segments([0.0, 1.0, 2.0], values) == expected


def test_svg_chart_has_one_line_per_person_broken_at_gaps() -> None:
    result = make_result({0: [0.1, None, 0.3, 0.4], 1: [0.9, 0.8, None, None]})
    svg = report_html.chart_svg(report.frame_chart(result, 0.6, 0.4))
    paths = re.findall(r'<path class="person-line" data-person="([^"]+)" d="([^"]+)"', svg)
    assert [label for label, _ in paths] == ["Person 1", "Person 2"]
    assert [commands.count("M") for _, commands in paths] == [2, 1]
    assert [commands.count("L") for _, commands in paths] == [1, 1]
    assert svg.count("<circle") == 5
    assert 'class="threshold"' in svg and 'class="uncertain-band"' in svg
    # The threshold 0.6 sits 40 % down the 210 px high plot that starts at y = 12.
    assert 'class="threshold" x1="46.0" y1="96.0"' in svg


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (16.0, [0, 2, 4, 6, 8, 10, 12, 14, 16]),
        (0.5, [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
        (0.0, [0]),
        (100.0, [0, 15, 30, 45, 60, 75, 90]),
    ],
)
def test_time_ticks(duration: float, expected: list[float]) -> None:
    assert report.time_ticks(duration) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(999, "999 bytes"), (1500, "1.5 kB (1,500 bytes)"), (2_000_000_000, "2.0 GB (2,000,000,000 bytes)")],
)
def test_human_size(size: int, expected: str) -> None:
    assert report.human_size(size) == expected


@pytest.mark.parametrize(
    ("videos", "expected"),
    [
        (["a/clip.mp4"], ["out/report.pdf"]),
        (["a/one.mp4", "b/two.mov"], ["out/report-one.pdf", "out/report-two.pdf"]),
        (["a/clip.mp4", "b/clip.mp4"], ["out/report-clip.pdf", "out/report-clip-2.pdf"]),
    ],
)
def test_report_paths(videos: list[str], expected: list[str]) -> None:
    assert report_files.report_paths("out/report.pdf", videos) == [Path(path) for path in expected]


def test_report_paths_and_render_need_pdf_or_html() -> None:
    with pytest.raises(ValueError, match=r"\.pdf or \.html"):
        report_files.report_paths("out/report.docx", ["a.mp4"])
    with pytest.raises(ValueError, match=r"\.pdf or \.html"):
        report_files.render(None, ".txt")  # type: ignore[arg-type]


def test_a_report_of_several_models_uses_and_names_the_thresholds_fitted_for_their_average(
    two_people, tiny_card
) -> None:
    import dataclasses

    second = dataclasses.replace(tiny_card, name="second")
    fitted = DecisionThresholds(fake=0.8, uncertain_low=0.3, chosen_on="fitted for the pair on validation data")
    content = report.build_report(
        dataclasses.replace(two_people, thresholds=fitted),
        [tiny_card, second],
        AnalysisConfig(),
        "a.mp4",
        size_bytes=1,
        sha256=SHA256,
        generated_at=NOW,
    )
    assert content.fake_threshold == 0.8
    assert content.thresholds_chosen_on == "fitted for the pair on validation data"
    assert "Thresholds for the 2 models' average: fitted for the pair on validation data." in content.notes
    alone = build(two_people, tiny_card)
    assert alone.fake_threshold == two_people.thresholds.fake
    assert not any("average has thresholds" in note for note in alone.notes)


def test_a_clean_verdict_carries_what_the_models_cannot_rule_out(tiny_card) -> None:
    clean = make_result({0: [0.1, 0.2, 0.15, 0.1, 0.05, 0.2, 0.1, 0.1]})
    blind = dataclasses.replace(tiny_card, metrics={**tiny_card.metrics, "ffpp_face2face": {"roc_auc": 0.52}})
    content = build(clean, blind)
    assert content.verdict_label is VerdictLabel.REAL
    caveat = content.notes[0]
    assert caveat.startswith("“No sign of manipulation found” does not rule out") and "Face2Face" in caveat
    assert "does not rule out" in pdf_text(report_pdf.to_pdf(content, unicode_fonts=False))
    assert "does not rule out every kind of manipulation" in report_files.to_html(content)
    # A model with no kind of fake measured near chance has nothing to add.
    assert not any("does not rule out" in note for note in build(clean, tiny_card).notes)
