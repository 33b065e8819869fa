"""Reports a reviewer can keep and share: the content, built once, then rendered as HTML or PDF.

``build_report`` gathers everything a reader needs to trust or question a verdict into a frozen ``Report`` of
plain words, numbers and images: which file (name, size, SHA-256), what was looked at (sampling), with which models
(versions, Keras version, thresholds), what was found (the verdict and one line per person, the per-frame chart,
the most suspicious faces) and what the check cannot tell. ``to_html`` and ``to_pdf`` lay that content out; they
add no findings of their own. The chart is drawn by the renderers themselves (SVG in HTML, lines in PDF) from
``FrameChart``, so a report needs neither a browser nor an image-export tool.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detector.analysis import disagreement, pipeline
from detector.config import AnalysisConfig
from detector.models.model_card import ModelCard, limitations_of
from detector.outputs import model_facts, model_summary, presentation
from detector.outputs.charts import PERSON_COLORS
from detector.types import Verdict, VerdictLabel, VideoResult, person_label

TITLE = "Deepfake video check"
FACES_PER_PERSON = 6
SCOPE_NOTE = (
    "The model was trained on face swaps from the DeepFake Detection Challenge (DFDC) data set. It judges faces "
    "only: it cannot judge a video generated entirely by a computer, the audio, or edits elsewhere in the picture, "
    "and other kinds of face manipulation may go unnoticed. A score is evidence, not proof: weigh it together with "
    "what is known about the source of the video."
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TIME_STEPS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class ModelSummary:
    """One model as a reader needs to know it: what it is, which exact weights, and how good it measured."""

    name: str
    version: str
    architecture: str
    description: str
    keras_version: str
    weights_sha256: str
    training_data: str
    quality: tuple[str, ...]
    thresholds_chosen_on: str


@dataclass(frozen=True, eq=False)
class ReportFace:
    """A face the model looked at. ``image`` (and ``overlay``, a heatmap of where the model looked, when there is
    one) is ``(S, S, 3) uint8 RGB``."""

    track_id: int
    frame_index: int
    time_seconds: float
    fake_probability: float
    caption: str
    image: np.ndarray
    overlay: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class PersonReport:
    """One person (track): the verdict over their faces and their most suspicious faces, most suspicious first."""

    track_id: int
    label: str
    summary: str
    headline: str
    detail: str
    tone: str
    faces: tuple[ReportFace, ...]
    faces_total: int


@dataclass(frozen=True)
class ChartSeries:
    """One person's line: a fake probability per sampled frame, ``None`` where their face was not scored."""

    label: str
    color: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class FrameChart:
    """The per-frame chart's data: sampled frame times (seconds) and one series per person, aligned with them."""

    times: tuple[float, ...]
    duration_seconds: float
    series: tuple[ChartSeries, ...]
    fake_threshold: float
    uncertain_low: float

    def __post_init__(self) -> None:
        for series in self.series:
            if len(series.values) != len(self.times):
                raise ValueError(f"{series.label} has {len(series.values)} values for {len(self.times)} frames")


@dataclass(frozen=True, eq=False)
class Report:
    """Everything a report shows, in plain words and numbers. ``people`` are ordered most suspicious first."""

    title: str
    generated_at: datetime.datetime
    file_name: str
    size_bytes: int
    sha256: str
    duration_seconds: float
    resolution: str
    frame_rate: float
    video_format: str
    is_photo: bool
    frames_sampled: int
    frame_count: int
    frame_count_is_estimate: bool
    frames_with_face: int
    sampling: str
    models: tuple[ModelSummary, ...]
    fake_threshold: float
    uncertain_low: float
    thresholds_chosen_on: str
    aggregation: str
    aggregation_explanation: str
    verdict_label: VerdictLabel
    verdict_tone: str
    verdict_headline: str
    fake_probability: float | None
    verdict_reason: str
    probability_explanation: str
    people: tuple[PersonReport, ...]
    notes: tuple[str, ...]
    limitations: tuple[str, ...]
    scope_note: str
    chart: FrameChart

    @property
    def faces(self) -> tuple[ReportFace, ...]:
        """Every face shown, person by person, the most suspicious first."""
        return tuple(face for person in self.people for face in person.faces)

    @property
    def size_text(self) -> str:
        return human_size(self.size_bytes)

    def file_facts(self) -> list[tuple[str, str]]:
        """The "file checked" rows, (label, plain text), in order; a photo has no length nor frame rate."""
        rows = [("File name", self.file_name), ("Size", self.size_text), ("SHA-256", self.sha256)]
        if self.is_photo:
            rows.append(("Picture", f"photo, {self.resolution}"))
        else:
            rows.append(("Length", f"{self.duration_seconds:.1f} seconds"))
            rows.append(("Picture", f"{self.resolution}, {self.frame_rate:.3g} frames per second"))
        rows.append(("Format", self.video_format))
        if self.is_photo:
            found = "a face to judge was found" if self.frames_with_face else "no face to judge was found"
            rows.append(("Examined", f"the whole photo; {found}"))
        else:
            rows.append(("Frames examined", f"{self.sampling}; {self.frames_with_face} showed a face to judge"))
        return rows

    @property
    def generated_text(self) -> str:
        return self.generated_at.strftime("%Y-%m-%d %H:%M UTC")


HEATMAP_CAPTION = (
    "Below a face, the heatmap shows where the model looked: the parts of the face that weighed most in its score. "
    "It is not proof of where the video was edited."
)


def human_size(size_bytes: int) -> str:
    """``12345678`` -> ``"12.3 MB (12,345,678 bytes)"``: decimal units, as file managers show them."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= factor:
            return f"{size_bytes / factor:.1f} {unit} ({size_bytes:,} bytes)"
    return f"{size_bytes:,} bytes"


def frame_chart(result: VideoResult, fake_threshold: float, uncertain_low: float) -> FrameChart:
    """The data of ``charts.frame_probability_figure``, for renderers that draw it themselves."""
    series = []
    for position, track in enumerate(result.tracks):
        by_frame = {score.frame_index: score.fake_probability for score in track.scores}
        series.append(
            ChartSeries(
                person_label(track.track_id),
                PERSON_COLORS[position % len(PERSON_COLORS)],
                tuple(by_frame.get(frame.index) for frame in result.frames),
            )
        )
    times = tuple(frame.time_seconds for frame in result.frames)
    duration = max(result.info.duration_seconds, times[-1] if times else 0.0, 0.1)
    return FrameChart(times, duration, tuple(series), fake_threshold, min(uncertain_low, fake_threshold))


def line_segments(times: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """The ``(time, value)`` runs of a series between its gaps: a frame without a value breaks the line."""
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times for {len(values)} values")
    segments: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for time, value in zip(times, values, strict=True):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((float(time), float(value)))
    if current:
        segments.append(current)
    return segments


def time_ticks(duration_seconds: float, max_ticks: int = 8) -> list[float]:
    """Round tick positions from 0 to ``duration_seconds``: at most ``max_ticks + 1`` of them."""
    if duration_seconds <= 0:
        return [0.0]
    step = next((step for step in _TIME_STEPS if duration_seconds / step <= max_ticks), _TIME_STEPS[-1])
    count = int(duration_seconds / step + 1e-9)
    return [round(index * step, 6) for index in range(count + 1)]


def _sampling_text(config: AnalysisConfig, frames_sampled: int, frame_count: int, estimate: bool) -> str:
    total = f"about {frame_count:,}" if estimate else f"{frame_count:,}"
    if config.sampling == "stride":
        how = f"every {config.frame_stride}th frame, at most {config.max_frames}"
    else:
        how = "evenly spaced"
    return f"{frames_sampled} of {total} frames ({how})"


def _person_detail(verdict: Verdict) -> str:
    if verdict.fake_probability is None:
        return verdict.reason
    return f"Fake probability {verdict.probability_text()}. {verdict.reason}"


def _model_summary(card: ModelCard) -> ModelSummary:
    return ModelSummary(
        name=card.name,
        version=card.version,
        architecture=card.architecture,
        description=card.description,
        keras_version=card.keras_version,
        weights_sha256=card.sha256,
        training_data=str(card.training.get("data", "not stated")),
        quality=tuple(model_facts.metric_lines(card.metrics)),
        thresholds_chosen_on=card.thresholds.chosen_on,
    )


def _caveats(label: VerdictLabel, cards: Sequence[ModelCard]) -> tuple[str, ...]:
    caveat = model_summary.clean_result_caveat(label, [card.metrics for card in cards])
    return (caveat,) if caveat else ()


def build_report(
    result: VideoResult,
    cards: Sequence[ModelCard],
    config: AnalysisConfig,
    file_name: str,
    size_bytes: int,
    sha256: str,
    overlays: Mapping[tuple[int, int], np.ndarray] | None = None,
    generated_at: datetime.datetime | None = None,
) -> Report:
    """The report of one analysed video.

    ``cards`` are the cards of the models that scored it; the thresholds are those the analysis decided with
    (``result.thresholds``). ``file_name`` is the name the reader
    knows the video by (the upload's name, not a temporary path); ``size_bytes`` and ``sha256`` identify the exact
    file (``uploads.upload_digest`` for bytes, ``model_card.file_sha256`` for a path). ``overlays`` maps
    ``(frame_index, track_id)`` like ``result.crops`` to a heatmap image of the same crop; faces without one show
    the crop alone.
    """
    if not cards:
        raise ValueError("a report needs the model card of at least one model")
    sha256 = sha256.lower()
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    if size_bytes < 0:
        raise ValueError(f"size_bytes must be >= 0, got {size_bytes}")
    generated_at = generated_at or datetime.datetime.now(datetime.UTC)
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must carry a time zone")
    overlays = overlays or {}
    thresholds = result.thresholds
    fake_threshold, uncertain_low = thresholds.fake, thresholds.uncertain_low
    info, verdict = result.info, result.verdict
    # With several models, say whose thresholds judged their average (unless the settings chose them).
    selection_notes = (
        (f"Thresholds for the {len(cards)} models' average: {thresholds.chosen_on}.",)
        if len(cards) > 1 and thresholds.chosen_on != pipeline.SETTINGS_CHOSEN
        else ()
    )

    people = []
    for person in presentation.face_gallery(result, FACES_PER_PERSON * max(1, len(result.tracks))):
        faces = tuple(
            ReportFace(
                track_id=score.track_id,
                frame_index=score.frame_index,
                time_seconds=score.time_seconds,
                fake_probability=score.fake_probability,
                caption=presentation.face_caption(score, thresholds),
                image=result.crops[(score.frame_index, score.track_id)],
                overlay=overlays.get((score.frame_index, score.track_id)),
            )
            for score in person.faces[:FACES_PER_PERSON]
        )
        people.append(
            PersonReport(
                track_id=person.track_id,
                label=person.label,
                summary=presentation.person_summary(person.track_id, person.verdict),
                headline=presentation.verdict_headline(person.verdict),
                detail=_person_detail(person.verdict),
                tone=presentation.verdict_tone(person.verdict),
                faces=faces,
                faces_total=person.total,
            )
        )

    limitations = limitations_of(cards)
    frames_sampled = len(result.frames)
    return Report(
        title=TITLE,
        generated_at=generated_at.astimezone(datetime.UTC),
        file_name=file_name,
        size_bytes=size_bytes,
        sha256=sha256,
        duration_seconds=info.duration_seconds,
        resolution=f"{info.width} × {info.height} pixels",
        frame_rate=info.fps,
        video_format=presentation.video_format(info),
        is_photo=info.is_photo,
        frames_sampled=frames_sampled,
        frame_count=info.frame_count,
        frame_count_is_estimate=info.frame_count_is_estimate,
        frames_with_face=sum(1 for frame in result.frames if frame.faces),
        sampling=_sampling_text(config, frames_sampled, info.frame_count, info.frame_count_is_estimate),
        models=tuple(_model_summary(card) for card in cards),
        fake_threshold=fake_threshold,
        uncertain_low=uncertain_low,
        thresholds_chosen_on=thresholds.chosen_on,
        aggregation=verdict.strategy,
        aggregation_explanation=presentation.STRATEGY_EXPLANATIONS.get(verdict.strategy, ""),
        verdict_label=verdict.label,
        verdict_tone=presentation.verdict_tone(verdict),
        verdict_headline=presentation.verdict_headline(verdict),
        fake_probability=verdict.fake_probability,
        verdict_reason=verdict.reason,
        probability_explanation=presentation.probability_explanation(verdict, fake_threshold, uncertain_low),
        people=tuple(people),
        notes=(
            *_caveats(verdict.label, cards),
            *result.notes,
            *selection_notes,
            *disagreement.summary_lines(result),
        ),
        limitations=limitations,
        scope_note=SCOPE_NOTE,
        chart=frame_chart(result, fake_threshold, uncertain_low),
    )
