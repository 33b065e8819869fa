"""A report as an A4 PDF, laid out with fpdf2: the same content as the HTML page, the chart drawn with lines.

Fonts: a Unicode TrueType font (DejaVu Sans, else Liberation Sans) when the system has one, so that file names in
any script print as they are; otherwise fpdf2's core Helvetica, which knows Latin-1 only. Either way, a character
the font cannot show is replaced (typographic dashes and quotes by their ASCII look-alikes, accented letters by
the bare letter, anything else by "?"), so an unusual file name can never make the PDF fail. The SHA-256 printed
in the report identifies the file whatever its name looks like.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fpdf import FPDF
from PIL import Image

from detector.outputs import report as reports
from detector.types import threshold_text

FONT_FOLDERS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# (family, regular, bold) file names, searched for in FONT_FOLDERS and their sub-folders, best first.
FONT_CANDIDATES = (
    ("DejaVuSans", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("LiberationSans", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)
MONO_CANDIDATES = (("DejaVuSansMono", "DejaVuSansMono.ttf"), ("LiberationMono", "LiberationMono-Regular.ttf"))
_ASCII_LOOKALIKES = str.maketrans(
    {"—": "-", "–": "-", "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "…": "...", "•": "-", "≥": ">=", "≤": "<="}
)

TEXT = (29, 39, 51)
MUTED = (91, 102, 112)
RULE = (221, 227, 232)
TONE_COLORS = {
    "fake": ((253, 236, 234), (179, 38, 30)),
    "real": ((231, 244, 234), (30, 107, 52)),
    "uncertain": ((241, 243, 245), (74, 85, 96)),
}
FACE_SIZE = 26.0  # millimetres; six faces and their gaps fill the 180 mm line
FACE_GAP = 4.8


@functools.cache
def find_font(names: tuple[str, ...], folders: tuple[Path, ...] = FONT_FOLDERS) -> tuple[Path, ...] | None:
    """The paths of all the named font files in one of ``folders`` (searched recursively), or None."""
    for folder in folders:
        if not folder.is_dir():
            continue
        found = [next(folder.rglob(name), None) for name in names]
        if all(path is not None for path in found):
            return tuple(path for path in found if path is not None)
    return None


def printable_text(text: str, can_show: Callable[[str], bool]) -> str:
    """``text`` with every character ``can_show`` rejects replaced by a look-alike the font has, or by "?"."""
    characters = []
    for character in str(text):
        if can_show(character):
            characters.append(character)
            continue
        lookalike = character.translate(_ASCII_LOOKALIKES)
        if lookalike != character and all(can_show(part) for part in lookalike):
            characters.append(lookalike)
            continue
        bare = "".join(part for part in unicodedata.normalize("NFKD", character) if not unicodedata.combining(part))
        characters.append(bare if bare and all(can_show(part) for part in bare) else "?")
    return "".join(characters)


def _latin1(character: str) -> bool:
    return ord(character) < 256 and character.isprintable()


class _ReportPDF(FPDF):
    """An A4 page with the report's running footer."""

    footer_text = ""
    footer_family = "Helvetica"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.footer_family, "", 7.5)
        self.set_text_color(*MUTED)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.cell(self.epw - 25, 6, self.footer_text)
        self.cell(25, 6, f"page {self.page_no()} of {{nb}}", align="R")


class _Writer:
    """Lays a report out on a ``_ReportPDF``, top to bottom."""

    def __init__(self, report: reports.Report, unicode_fonts: bool) -> None:
        self.report = report
        self.pdf = _ReportPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_auto_page_break(True, margin=18)
        self.family, self.mono = "Helvetica", "Courier"
        can_show: Callable[[str], bool] = _latin1
        sans = (find_font(FONT_CANDIDATES[0][1:]) or find_font(FONT_CANDIDATES[1][1:])) if unicode_fonts else None
        if sans is not None:
            self.pdf.add_font("Sans", "", sans[0])
            self.pdf.add_font("Sans", "B", sans[1])
            self.family = "Sans"
            cmap = self.pdf.fonts["sans"].cmap
            can_show = lambda character: ord(character) in cmap and character.isprintable()  # noqa: E731
            mono = find_font(MONO_CANDIDATES[0][1:]) or find_font(MONO_CANDIDATES[1][1:])
            if mono is not None:
                self.pdf.add_font("Mono", "", mono[0])
                self.mono = "Mono"
        self.can_show = can_show
        self.pdf.footer_family = self.family
        self.pdf.footer_text = self.text(f"{report.title} · {report.file_name} · {report.generated_text}")

    def text(self, value: object) -> str:
        return printable_text(str(value), self.can_show)

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = TEXT) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def paragraph(self, value: str, size: float = 9.5, bold: bool = False, color: tuple[int, int, int] = TEXT) -> None:
        self.font(size, bold, color)
        self.pdf.multi_cell(0, size * 0.5, self.text(value), align="L", new_x="LMARGIN", new_y="NEXT")

    def heading(self, value: str, space: float = 22) -> None:
        """A section heading; a new page first unless ``space`` mm (the heading and what must follow it) fit."""
        pdf = self.pdf
        if pdf.will_page_break(space):
            pdf.add_page()
        pdf.ln(4)
        self.font(12.5, bold=True)
        pdf.cell(0, 7, self.text(value), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)

    def facts(self, rows: list[tuple[str, str]], mono_rows: frozenset[str] = frozenset()) -> None:
        """Label and value rows; values of the labels in ``mono_rows`` in a fixed-width font."""
        pdf, label_width = self.pdf, 38.0
        for label, value in rows:
            family = self.mono if label in mono_rows else self.family
            size = 8.5 if label in mono_rows else 9.5
            pdf.set_font(family, "", size)
            value_text = self.text(value)
            height = pdf.multi_cell(pdf.epw - label_width, 4.8, value_text, dry_run=True, output="HEIGHT")
            if pdf.will_page_break(height):
                pdf.add_page()
            self.font(9.5, bold=True)
            pdf.cell(label_width, 4.8, self.text(label))
            pdf.set_font(family, "", size)
            pdf.set_text_color(*TEXT)
            pdf.multi_cell(pdf.epw - label_width, 4.8, value_text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.8)

    def bullets(self, lines: tuple[str, ...] | list[str], size: float = 9.5) -> None:
        pdf = self.pdf
        for line in lines:
            indent = 10.0 if line.startswith("- ") else 4.0
            body = line[2:] if line.startswith("- ") else line
            self.font(size)
            pdf.set_x(pdf.l_margin + indent - 3.5)
            pdf.cell(3.5, size * 0.5, "-" if indent > 4 else self.text("•"))
            pdf.multi_cell(pdf.epw - indent, size * 0.5, self.text(body), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.6)

    def title(self) -> None:
        report, pdf = self.report, self.pdf
        self.font(20, bold=True)
        pdf.cell(0, 10, self.text(report.title), new_x="LMARGIN", new_y="NEXT")
        self.paragraph(f"Report on {report.file_name}, made {report.generated_text}", 9.5, color=MUTED)

    def verdict(self) -> None:
        report, pdf = self.report, self.pdf
        background, accent = TONE_COLORS[report.verdict_tone]
        inner = pdf.epw - 10
        self.font(14, bold=True)
        headline = self.text(report.verdict_headline)
        heights = [pdf.multi_cell(inner, 7, headline, dry_run=True, output="HEIGHT")]
        self.font(9.5)
        heights.append(pdf.multi_cell(inner, 4.8, self.text(report.verdict_reason), dry_run=True, output="HEIGHT"))
        self.font(8.5)
        explanation = self.text(report.probability_explanation)
        heights.append(pdf.multi_cell(inner, 4.3, explanation, dry_run=True, output="HEIGHT"))
        box_height = sum(heights) + 9
        pdf.ln(3)
        top = pdf.get_y()
        pdf.set_fill_color(*background)
        pdf.rect(pdf.l_margin, top, pdf.epw, box_height, style="F")
        pdf.set_fill_color(*accent)
        pdf.rect(pdf.l_margin, top, 2.2, box_height, style="F")
        pdf.set_xy(pdf.l_margin + 6, top + 3)
        self.font(14, bold=True, color=accent)
        pdf.multi_cell(inner, 7, headline, align="L", new_x="LEFT", new_y="NEXT")
        self.font(9.5)
        pdf.multi_cell(inner, 4.8, self.text(report.verdict_reason), align="L", new_x="LEFT", new_y="NEXT")
        pdf.set_xy(pdf.l_margin + 6, pdf.get_y() + 1.5)
        self.font(8.5, color=MUTED)
        pdf.multi_cell(inner, 4.3, explanation, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(top + box_height + 2)

    def people(self) -> None:
        report, pdf = self.report, self.pdf
        if not report.people:
            return
        self.heading("People in the video")
        colors = {series.label: series.color for series in report.chart.series}
        for person in report.people:
            if pdf.will_page_break(12):
                pdf.add_page()
            y = pdf.get_y()
            pdf.set_fill_color(*_rgb(colors.get(person.label, "#999999")))
            pdf.rect(pdf.l_margin + 0.5, y + 1.2, 3, 3, style="F")
            pdf.set_x(pdf.l_margin + 6)
            self.font(10, bold=True)
            pdf.multi_cell(pdf.epw - 6, 5.5, self.text(person.summary), align="L", new_x="LEFT", new_y="NEXT")
            self.font(8.5, color=MUTED)
            pdf.multi_cell(pdf.epw - 6, 4.3, self.text(person.detail), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.2)

    def chart(self) -> None:
        chart, pdf = self.report.chart, self.pdf
        self.heading("Frame by frame", space=100 if chart.series else 22)
        if not chart.series:
            self.paragraph("No face was scored, so there is nothing to plot.")
            return
        height = 58.0
        top = pdf.get_y() + 2
        draw_chart(pdf, chart, pdf.l_margin, top, pdf.epw, height, self.family)
        pdf.set_y(top + height + 2)
        x = pdf.l_margin + 12
        for series in chart.series:
            pdf.set_fill_color(*_rgb(series.color))
            pdf.rect(x, pdf.get_y() + 1.1, 3, 3, style="F")
            self.font(8.5)
            pdf.set_x(x + 4)
            width = pdf.get_string_width(series.label) + 8
            pdf.cell(width, 5, self.text(series.label))
            x += width + 4
        pdf.ln(6)
        self.paragraph(
            "Each dot is the fake probability of one person's face in one sampled frame. Gaps in a line are frames "
            "in which that person's face was not found or was too small to judge; no value is made up for them. "
            "The dashed line is the threshold.",
            8.5,
            color=MUTED,
        )

    def faces(self) -> None:
        report, pdf = self.report, self.pdf
        people = [person for person in report.people if person.faces]
        if not people:
            return
        self.heading("Faces the model looked at", space=75)
        explanation = (
            "The most suspicious faces of each person first. Under each face: its fake probability (0 looks real, "
            "1 looks manipulated) and when it appears in the video."
        )
        if any(face.overlay is not None for face in report.faces):
            explanation += " " + reports.HEATMAP_CAPTION
        self.paragraph(explanation, 8.5, color=MUTED)
        for person in people:
            with_overlay = any(face.overlay is not None for face in person.faces)
            cell_height = FACE_SIZE * (2 if with_overlay else 1) + (1 if with_overlay else 0) + 6
            if pdf.will_page_break(cell_height + 14):
                pdf.add_page()
            pdf.ln(1.5)
            self.font(10, bold=True)
            pdf.cell(0, 6, self.text(f"{person.label} — {person.headline}"), new_x="LMARGIN", new_y="NEXT")
            top = pdf.get_y() + 1
            for column, face in enumerate(person.faces):
                x = pdf.l_margin + column * (FACE_SIZE + FACE_GAP)
                pdf.image(_pil(face.image), x=x, y=top, w=FACE_SIZE, h=FACE_SIZE)
                caption_y = top + FACE_SIZE + 0.5
                if face.overlay is not None:
                    pdf.image(_pil(face.overlay), x=x, y=top + FACE_SIZE + 1, w=FACE_SIZE, h=FACE_SIZE)
                    caption_y += FACE_SIZE + 1
                pdf.set_xy(x, caption_y)
                self.font(7.5, color=MUTED)
                pdf.cell(FACE_SIZE, 4, self.text(face.caption), align="C")
            pdf.set_y(top + cell_height)
            if person.faces_total > len(person.faces):
                self.paragraph(
                    f"Showing the {len(person.faces)} most suspicious of {person.faces_total} faces.", 8, color=MUTED
                )

    def file(self) -> None:
        report = self.report
        self.heading("The file checked", space=75)
        self.facts(
            report.file_facts(),
            mono_rows=frozenset({"SHA-256"}),
        )
        self.paragraph(
            "The SHA-256 fingerprint identifies this exact file: compute it on your copy (for example with "
            "sha256sum) to confirm that this report is about the same video.",
            8.5,
            color=MUTED,
        )

    def method(self) -> None:
        report = self.report
        self.heading("How the check was made", space=60)
        if len(report.models) > 1:
            self.paragraph(
                f"{len(report.models)} models were averaged; their average was judged with the thresholds below."
            )
        for model in report.models:
            self.facts(
                [
                    ("Model", f"{model.name}, version {model.version}"),
                    ("What it is", model.description),
                    ("Architecture", model.architecture),
                    ("Trained on", model.training_data),
                    ("Keras version", model.keras_version),
                    ("Weights SHA-256", model.weights_sha256),
                ],
                mono_rows=frozenset({"Weights SHA-256"}),
            )
            if model.quality:
                self.paragraph("Measured quality (single face crops, not whole videos)", 9.5, bold=True)
                self.bullets(model.quality, 8.5)
            self.pdf.ln(1)
        high, low = threshold_text(report.fake_threshold), threshold_text(report.uncertain_low)
        thresholds = f"Likely manipulated at a fake probability of {high} or above"
        if report.uncertain_low < report.fake_threshold:
            thresholds += f"; inconclusive from {low} up to {high}"
        self.facts(
            [
                ("Thresholds", f"{thresholds} ({report.thresholds_chosen_on})."),
                ("Combining frames", f"“{report.aggregation}”: {report.aggregation_explanation}"),
            ]
        )

    def limits(self) -> None:
        self.heading("What this check cannot tell")
        self.paragraph(self.report.scope_note)
        if self.report.limitations:
            self.pdf.ln(1)
            self.bullets(self.report.limitations)

    def write(self) -> bytes:
        report, pdf = self.report, self.pdf
        pdf.set_title(self.text(f"{report.title}: {report.file_name}"))
        pdf.set_creator("Deepfake video checker")
        pdf.set_creation_date(report.generated_at)
        pdf.add_page()
        self.title()
        self.verdict()
        self.people()
        if report.notes:
            self.heading("Notes")
            self.bullets(report.notes)
        self.chart()
        self.faces()
        self.file()
        self.method()
        self.limits()
        return bytes(pdf.output())


def _rgb(color: str) -> tuple[int, int, int]:
    """``"#d62728"`` -> ``(214, 39, 40)``."""
    value = color.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(image))


def draw_chart(
    pdf: FPDF, chart: reports.FrameChart, x: float, y: float, width: float, height: float, family: str
) -> None:
    """The per-frame chart in the box ``(x, y, width, height)`` mm: axes, threshold, one line per person broken at
    frames without a value, a dot per scored frame."""
    left, bottom = 12.0, 9.0
    plot_x, plot_width, plot_height = x + left, width - left - 2, height - bottom

    def x_of(time: float) -> float:
        return plot_x + plot_width * min(max(time / chart.duration_seconds, 0.0), 1.0)

    def y_of(probability: float) -> float:
        return y + plot_height * (1.0 - probability)

    pdf.set_font(family, "", 7)
    pdf.set_text_color(*MUTED)
    pdf.set_line_width(0.2)
    if chart.uncertain_low < chart.fake_threshold:
        pdf.set_fill_color(235, 235, 235)
        top = y_of(chart.fake_threshold)
        pdf.rect(plot_x, top, plot_width, y_of(chart.uncertain_low) - top, style="F")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        pdf.set_draw_color(*RULE)
        pdf.line(plot_x, y_of(tick), plot_x + plot_width, y_of(tick))
        pdf.set_xy(x, y_of(tick) - 2)
        pdf.cell(left - 1.5, 4, f"{tick:.2f}", align="R")
    pdf.set_draw_color(*MUTED)
    pdf.line(plot_x, y + plot_height, plot_x + plot_width, y + plot_height)
    for tick in reports.time_ticks(chart.duration_seconds):
        pdf.line(x_of(tick), y + plot_height, x_of(tick), y + plot_height + 1.2)
        pdf.set_xy(x_of(tick) - 6, y + plot_height + 1.2)
        pdf.cell(12, 3.5, f"{tick:g}", align="C")
    pdf.set_xy(plot_x, y + height - 3.5)
    pdf.cell(plot_width, 3.5, "time in the video (seconds)", align="C")
    with pdf.local_context():
        pdf.set_draw_color(68, 68, 68)
        pdf.set_dash_pattern(dash=1.5, gap=1)
        pdf.line(plot_x, y_of(chart.fake_threshold), plot_x + plot_width, y_of(chart.fake_threshold))
    pdf.set_xy(plot_x + plot_width - 40, y_of(chart.fake_threshold) - 4)
    pdf.cell(40, 3.5, f"threshold {threshold_text(chart.fake_threshold)}", align="R")
    pdf.set_line_width(0.45)
    for series in chart.series:
        color = _rgb(series.color)
        pdf.set_draw_color(*color)
        pdf.set_fill_color(*color)
        for segment in reports.line_segments(chart.times, series.values):
            points = [(x_of(time), y_of(value)) for time, value in segment]
            if len(points) > 1:
                pdf.polyline(points)
            for point_x, point_y in points:
                pdf.ellipse(point_x - 0.6, point_y - 0.6, 1.2, 1.2, style="F")
    pdf.set_line_width(0.2)


def to_pdf(report: reports.Report, unicode_fonts: bool = True) -> bytes:
    """The report as PDF bytes. ``unicode_fonts=False`` uses the core Helvetica even where a TrueType font is
    installed (as on a machine without one)."""
    return _Writer(report, unicode_fonts).write()
