"""A report as a file: PDF or HTML bytes (``render``), and where each video's report goes (``report_paths``).

``report`` builds the content; ``report_html`` and ``report_pdf`` lay it out. This module sits above all three, so
that the renderers import the content's types and nothing imports back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from detector.outputs.report import Report

REPORT_SUFFIXES = (".pdf", ".html")


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS, images as data URIs, the chart as SVG)."""
    from detector.outputs import report_html  # Imported when asked for, like the PDF renderer.

    return report_html.to_html(report)


def to_pdf(report: Report) -> bytes:
    """The report as an A4 PDF."""
    from detector.outputs import report_pdf  # Imported when asked for: it loads fpdf2 and fonts.

    return report_pdf.to_pdf(report)


def render(report: Report, suffix: str) -> bytes:
    """The report as the bytes of a ``.pdf`` or ``.html`` file (UTF-8)."""
    suffix = suffix.lower()
    if suffix == ".pdf":
        return to_pdf(report)
    if suffix == ".html":
        return to_html(report).encode("utf-8")
    raise ValueError(f"a report is a {' or '.join(REPORT_SUFFIXES)} file, got {suffix!r}")


def report_paths(out: str | Path, video_paths: Sequence[str | Path]) -> list[Path]:
    """Where each video's report goes: ``out`` itself for one video; for several, one file per video next to
    ``out``, named ``<out stem>-<video stem><out suffix>`` (``report.pdf`` -> ``report-clip1.pdf``)."""
    out = Path(out)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise ValueError(f"the report file must end in {' or '.join(REPORT_SUFFIXES)}, got {out.name!r}")
    if len(video_paths) == 1:
        return [out]
    paths, seen = [], set()
    for video_path in video_paths:
        stem = f"{out.stem}-{Path(video_path).stem}"
        candidate, number = out.with_name(f"{stem}{out.suffix}"), 2
        while candidate in seen:  # Two videos with the same stem from different folders.
            candidate, number = out.with_name(f"{stem}-{number}{out.suffix}"), number + 1
        seen.add(candidate)
        paths.append(candidate)
    return paths
