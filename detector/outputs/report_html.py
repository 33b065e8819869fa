"""A report as one self-contained HTML page: inline CSS, images as PNG data URIs, the chart as inline SVG.

Every piece of text goes through ``html.escape``: file names, notes and model cards come from outside and must
never become markup. The page needs nothing from the network, so it can be mailed and opened anywhere.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

from detector.outputs import report as reports
from detector.types import threshold_text

TONE_COLORS = {
    "fake": ("#fdecea", "#b3261e"),
    "real": ("#e7f4ea", "#1e6b34"),
    "uncertain": ("#f1f3f5", "#4a5560"),
}
_CSS = """
body { margin: 0; background: #f4f6f8; color: #1d2733; font: 15px/1.5 -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; }
main { max-width: 820px; margin: 24px auto; background: #fff; padding: 32px 40px; border-radius: 6px;
  box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #dde3e8; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 6px 0; }
.muted { color: #5b6670; font-size: 13px; }
.verdict { border-left: 6px solid; border-radius: 4px; padding: 12px 16px; margin: 16px 0; }
.verdict .headline { font-size: 20px; font-weight: 700; margin: 0 0 4px; }
table.facts { border-collapse: collapse; width: 100%; }
table.facts th { text-align: left; font-weight: 600; width: 180px; vertical-align: top; padding: 4px 12px 4px 0; }
table.facts td { padding: 4px 0; vertical-align: top; overflow-wrap: anywhere; }
code { font: 13px/1.4 Menlo, Consolas, "DejaVu Sans Mono", monospace; }
ul { margin: 4px 0; padding-left: 20px; }
li.sub { list-style: circle; margin-left: 20px; }
.people { list-style: none; padding-left: 0; }
.people li { margin: 6px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
  vertical-align: -1px; }
.legend span { margin-right: 16px; font-size: 13px; }
.faces { display: flex; flex-wrap: wrap; gap: 10px; }
.faces figure { margin: 0; width: 112px; }
.faces img { width: 112px; height: 112px; border-radius: 3px; display: block; }
.faces figcaption { font-size: 12px; color: #5b6670; text-align: center; }
svg text { font: 11px sans-serif; fill: #4a5560; }
footer { margin-top: 28px; border-top: 1px solid #dde3e8; padding-top: 8px; }
@media print { body { background: #fff; } main { box-shadow: none; margin: 0; max-width: none; } }
"""


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def png_data_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of an ``(H, W, 3) uint8 RGB`` image."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chart_svg(chart: reports.FrameChart, width: int = 720, height: int = 260) -> str:
    """The per-frame chart as an SVG element: one ``path.person-line`` per person, broken where a frame has no
    value for that person (a new ``M`` command), a dot per scored frame, the threshold as a dashed line."""
    left, right, top, bottom = 46.0, 14.0, 12.0, 38.0
    plot_width, plot_height = width - left - right, height - top - bottom

    def x_of(time: float) -> float:
        return left + plot_width * min(max(time / chart.duration_seconds, 0.0), 1.0)

    def y_of(probability: float) -> float:
        return top + plot_height * (1.0 - probability)

    parts = [
        f'<svg class="frame-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="Fake probability per sampled frame, one line per person">'
    ]
    if chart.uncertain_low < chart.fake_threshold:
        band_top, band_bottom = y_of(chart.fake_threshold), y_of(chart.uncertain_low)
        parts.append(
            f'<rect class="uncertain-band" x="{left:.1f}" y="{band_top:.1f}" width="{plot_width:.1f}" '
            f'height="{band_bottom - band_top:.1f}" fill="#999" fill-opacity="0.15"/>'
        )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - right:.1f}" y2="{y:.1f}" stroke="#e3e7eb"/>')
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    for tick in reports.time_ticks(chart.duration_seconds):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top + plot_height:.1f}" x2="{x:.1f}" y2="{top + plot_height + 4:.1f}" '
            'stroke="#4a5560"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{top + plot_height + 16:.1f}" text-anchor="middle">{tick:g}</text>')
    parts.append(
        f'<line x1="{left:.1f}" y1="{top + plot_height:.1f}" x2="{width - right:.1f}" y2="{top + plot_height:.1f}" '
        'stroke="#4a5560"/>'
    )
    threshold_y = y_of(chart.fake_threshold)
    parts.append(
        f'<line class="threshold" x1="{left:.1f}" y1="{threshold_y:.1f}" x2="{width - right:.1f}" '
        f'y2="{threshold_y:.1f}" stroke="#444" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="{width - right:.1f}" y="{threshold_y - 4:.1f}" text-anchor="end">threshold '
        f"{threshold_text(chart.fake_threshold)}</text>"
    )
    for series in chart.series:
        segments = reports.line_segments(chart.times, series.values)
        commands = " ".join(
            " ".join(
                f"{'M' if index == 0 else 'L'}{x_of(time):.1f},{y_of(value):.1f}"
                for index, (time, value) in enumerate(segment)
            )
            for segment in segments
        )
        color = _escape(series.color)
        parts.append(
            f'<path class="person-line" data-person="{_escape(series.label)}" d="{commands}" fill="none" '
            f'stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
        )
        dots = "".join(
            f'<circle cx="{x_of(time):.1f}" cy="{y_of(value):.1f}" r="2.5"/>'
            for segment in segments
            for time, value in segment
        )
        parts.append(f'<g class="person-points" fill="{color}">{dots}</g>')
    parts.append(
        f'<text x="{left + plot_width / 2:.1f}" y="{height - 4:.1f}" text-anchor="middle">'
        "time in the video (seconds)</text>"
    )
    parts.append(
        f'<text transform="translate(12 {top + plot_height / 2:.1f}) rotate(-90)" text-anchor="middle">'
        "fake probability</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _facts_table(rows: list[tuple[str, str]]) -> str:
    """Rows of ``(label, already escaped HTML)``."""
    body = "".join(f"<tr><th>{_escape(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="facts">{body}</table>'


def _lines_list(lines: tuple[str, ...] | list[str]) -> str:
    """Lines as a list; those starting with ``"- "`` (the sub-points of ``model_facts.metric_lines``) indented."""
    items = []
    for line in lines:
        if line.startswith("- "):
            items.append(f'<li class="sub">{_escape(line[2:])}</li>')
        else:
            items.append(f"<li>{_escape(line)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _verdict_section(report: reports.Report) -> str:
    background, accent = TONE_COLORS[report.verdict_tone]
    return (
        f'<section class="verdict verdict-{report.verdict_tone}" style="background:{background};'
        f'border-color:{accent}"><p class="headline" style="color:{accent}">{_escape(report.verdict_headline)}</p>'
        f"<p>{_escape(report.verdict_reason)}</p>"
        f'<p class="muted">{_escape(report.probability_explanation)}</p></section>'
    )


def _people_section(report: reports.Report) -> str:
    if not report.people:
        return ""
    colors = {series.label: series.color for series in report.chart.series}
    items = "".join(
        f'<li><span class="swatch" style="background:{_escape(colors.get(person.label, "#999"))}"></span>'
        f"<strong>{_escape(person.summary)}</strong>"
        f'<br><span class="muted">{_escape(person.detail)}</span></li>'
        for person in report.people
    )
    return f'<h2>People in the video</h2><ul class="people">{items}</ul>'


def _file_section(report: reports.Report) -> str:
    rows = [
        (label, f'<code class="sha256">{_escape(text)}</code>' if label == "SHA-256" else _escape(text))
        for label, text in report.file_facts()
    ]
    return (
        "<h2>The file checked</h2>"
        + _facts_table(rows)
        + '<p class="muted">The SHA-256 fingerprint identifies this exact file: compute it on your copy (for example '
        "with <code>sha256sum</code>) to confirm that this report is about the same video.</p>"
    )


def _chart_section(report: reports.Report) -> str:
    if not report.chart.series:
        return "<h2>Frame by frame</h2><p>No face was scored, so there is nothing to plot.</p>"
    legend = "".join(
        f'<span><span class="swatch" style="background:{_escape(series.color)}"></span>{_escape(series.label)}</span>'
        for series in report.chart.series
    )
    return (
        "<h2>Frame by frame</h2>"
        + chart_svg(report.chart)
        + f'<p class="legend">{legend}</p>'
        + '<p class="muted">Each dot is the fake probability of one person\'s face in one sampled frame. Gaps in a '
        "line are frames in which that person's face was not found or was too small to judge; no value is made "
        "up for them. The dashed line is the threshold.</p>"
    )


def _face_figure(face: reports.ReportFace) -> str:
    images = f'<img src="{png_data_uri(face.image)}" alt="face at {face.time_seconds:.1f} s">'
    if face.overlay is not None:
        images += f'<img class="overlay" src="{png_data_uri(face.overlay)}" alt="where the model looked">'
    return f"<figure>{images}<figcaption>{_escape(face.caption)}</figcaption></figure>"


def _faces_section(report: reports.Report) -> str:
    people = [person for person in report.people if person.faces]
    if not people:
        return ""
    parts = [
        "<h2>Faces the model looked at</h2>",
        '<p class="muted">The most suspicious faces of each person first. Under each face: its fake probability '
        "(0 looks real, 1 looks manipulated) and when it appears in the video.",
    ]
    if any(face.overlay is not None for face in report.faces):
        parts.append(" " + _escape(reports.HEATMAP_CAPTION))
    parts.append("</p>")
    for person in people:
        parts.append(f"<h3>{_escape(person.label)} — {_escape(person.headline)}</h3>")
        parts.append(f'<div class="faces">{"".join(_face_figure(face) for face in person.faces)}</div>')
        if person.faces_total > len(person.faces):
            parts.append(
                f'<p class="muted">Showing the {len(person.faces)} most suspicious of {person.faces_total} faces.</p>'
            )
    return "".join(parts)


def _method_section(report: reports.Report) -> str:
    parts = ["<h2>How the check was made</h2>"]
    if len(report.models) > 1:
        parts.append(
            f"<p>{len(report.models)} models were averaged; their average was judged with the thresholds below.</p>"
        )
    for model in report.models:
        rows = [
            ("Model", _escape(f"{model.name}, version {model.version}")),
            ("What it is", _escape(model.description)),
            ("Architecture", _escape(model.architecture)),
            ("Trained on", _escape(model.training_data)),
            ("Keras version", _escape(model.keras_version)),
            ("Weights SHA-256", f"<code>{_escape(model.weights_sha256)}</code>"),
        ]
        parts.append(_facts_table(rows))
        if model.quality:
            parts.append("<p><strong>Measured quality</strong> (single face crops, not whole videos)</p>")
            parts.append(_lines_list(model.quality))
    high, low = threshold_text(report.fake_threshold), threshold_text(report.uncertain_low)
    thresholds = f"Likely manipulated at a fake probability of {high} or above"
    if report.uncertain_low < report.fake_threshold:
        thresholds += f"; inconclusive from {low} up to {high}"
    rows = [
        ("Thresholds", _escape(f"{thresholds} ({report.thresholds_chosen_on}).")),
        ("Combining frames", _escape(f"“{report.aggregation}”: {report.aggregation_explanation}")),
    ]
    parts.append(_facts_table(rows))
    return "".join(parts)


def _limits_section(report: reports.Report) -> str:
    parts = ["<h2>What this check cannot tell</h2>", f"<p>{_escape(report.scope_note)}</p>"]
    if report.limitations:
        parts.append(_lines_list(report.limitations))
    return "".join(parts)


def to_html(report: reports.Report) -> str:
    """The whole report as an HTML document (UTF-8 text)."""
    notes = ""
    if report.notes:
        notes = "<h2>Notes</h2>" + _lines_list(report.notes)
    body = "".join(
        [
            f"<header><h1>{_escape(report.title)}</h1>",
            f'<p class="muted">Report on <strong>{_escape(report.file_name)}</strong>, made '
            f"{_escape(report.generated_text)}</p></header>",
            _verdict_section(report),
            _people_section(report),
            notes,
            _chart_section(report),
            _faces_section(report),
            _file_section(report),
            _method_section(report),
            _limits_section(report),
            f'<footer class="muted">{_escape(report.title)} · {_escape(report.generated_text)} · SHA-256 '
            f"{_escape(report.sha256)}</footer>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_escape(report.title)}: {_escape(report.file_name)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
