"""The deepfake checker's page: drop videos or photos, read each verdict and the evidence behind it, share it.

Layout, widgets and rendering only; every computation is in ``detector/``. Run with ``streamlit run streamlit_app.py``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from detector.analysis import disagreement, pipeline, uploads
from detector.analysis.aggregation import STRATEGIES
from detector.analysis.faces import FaceDetector
from detector.analysis.scoring import EnsembleScorer, load_scorer
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.models import model_card
from detector.outputs import (
    annotate,
    charts,
    explain,
    export,
    model_facts,
    model_summary,
    presentation,
    report,
    report_files,
    stability,
)
from detector.types import VideoResult

logger = logging.getLogger("streamlit_app")

TITLE = "Deepfake video checker"
INTRODUCTION = (
    "Upload a video of a person and the checker looks for signs that their face was swapped or altered. It samples "
    "frames, finds the faces in them and asks a trained model how manipulated each face looks, then combines those "
    "scores into one verdict. It judges faces only: it does not listen to the audio, and it cannot recognise a "
    "video that was generated from scratch or edited elsewhere in the picture. Its score is evidence, not proof: "
    "use it alongside your own checks of the source."
)
APOLOGY = (
    "Sorry, something went wrong while checking this file. The problem has been logged for the people who "
    "maintain the checker. You can try again, or try another copy of the file."
)
FACES_PER_ROW = 8
MAX_FACES_SHOWN = 24
# Results kept for the session: every file of one drop, and a few from before.
RESULTS_REMEMBERED = uploads.MAX_FILES + 4
EXPLAINED_PER_PERSON = explain.EXPLAINED_PER_PERSON


@dataclass(frozen=True)
class Checked:
    """One dropped file and what became of it: a result, or the reason there is none."""

    file_name: str
    data: bytes
    key: object
    result: VideoResult | None
    error: str | None


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _scorer(folder: str, names: tuple[str, ...]) -> EnsembleScorer:
    return load_scorer(list(names), Path(folder))


@st.cache_resource(show_spinner=False, max_entries=4)
def _face_detector(model: str, min_confidence: float) -> FaceDetector:
    return FaceDetector(model, min_confidence)


@st.cache_resource(show_spinner=False)
def _analysis_lock() -> threading.Lock:
    """One analysis at a time across sessions: the shared face detector is not thread-safe, and two cores are few."""
    return threading.Lock()


def _upload_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 1_000_000


def render_settings(
    defaults: AnalysisConfig, cards: dict[str, model_card.ModelCard], default_model: str
) -> tuple[list[str], AnalysisConfig]:
    """The settings form in the sidebar: nothing is checked again until "Apply" is pressed."""
    st.sidebar.header("Settings")
    form = st.sidebar.form("settings", border=False)
    names = form.multiselect(
        "Model",
        list(cards),
        default=[default_model],
        help="Choose several to average their scores (an ensemble). “About the model” under each result has each "
        "model's measurements.",
    )
    for name in names:
        form.caption(model_facts.model_choice_line(cards[name]))
    frames_to_sample = form.slider(
        "Frames to sample",
        8,
        64,
        defaults.frames_to_sample,
        help="Evenly spaced frames to examine. More frames: a steadier verdict, a slower check.",
    )
    strategies = sorted(STRATEGIES, key=list(presentation.STRATEGY_EXPLANATIONS).index)
    aggregation = form.selectbox(
        "How to combine frames",
        strategies,
        index=strategies.index(defaults.aggregation),
        help="\n\n".join(f"**{name}**: {presentation.STRATEGY_EXPLANATIONS[name]}" for name in strategies),
    )
    form.caption(presentation.STRATEGY_EXPLANATIONS[aggregation])
    with form.expander("Advanced"):
        min_face_size = st.slider(
            "Smallest face to judge (pixels)",
            16,
            256,
            defaults.min_face_size,
            help="Faces smaller than this in the frame are found but not scored: the model cannot judge them.",
        )
        min_face_confidence = st.slider(
            "Face detector confidence",
            0.1,
            0.95,
            defaults.min_face_confidence,
            step=0.05,
            help="How sure the face detector must be that it sees a face. Lower finds more faces and more mistakes.",
        )
    form.form_submit_button("Apply", type="primary", help="Check the files again with these settings.")
    config = defaults.replace(
        frames_to_sample=frames_to_sample,
        aggregation=aggregation,
        min_face_size=min_face_size,
        min_face_confidence=min_face_confidence,
    )
    return names, config


def check(
    uploaded: st.runtime.uploaded_file_manager.UploadedFile,
    folder: Path,
    names: list[str],
    config: AnalysisConfig,
    position: str,
) -> Checked:
    """Analyses one dropped file (once per content and settings), with a progress bar; never raises."""
    data = uploaded.getvalue()
    key = uploads.analysis_key(uploads.upload_digest(data), names, config)
    results: dict = st.session_state.setdefault("results", {})
    if key not in results:
        bar = st.progress(0.0, text=f"{position}Waiting for the checker…")

        def progress(stage: str, fraction: float, message: str) -> None:
            bar.progress(presentation.overall_progress(stage, fraction), text=f"{position}{message}")

        try:
            scorer = _scorer(str(folder), tuple(names))
            detector = _face_detector(config.detector_model, config.min_face_confidence)
            with _analysis_lock(), uploads.saved_upload(data, uploaded.name) as path:
                results[key] = (pipeline.analyze(path, scorer, config, detector=detector, progress=progress), None)
        except DetectorError as error:
            results[key] = (None, f"{error}\n\n{presentation.error_hint(error)}")
        except Exception:
            logger.exception("checking %r failed", uploaded.name)
            results[key] = (None, APOLOGY)
        finally:
            bar.empty()
        while len(results) > RESULTS_REMEMBERED:
            results.pop(next(iter(results)))
    result, error = results[key]
    return Checked(uploaded.name, data, key, result, error)


def render_summary(checked: list[Checked]) -> None:
    """Several files: one row each, in the order dropped."""
    st.subheader("Results")
    rows = [
        presentation.summary_row(item.file_name, item.result.verdict)
        if item.result is not None
        else presentation.error_row(item.file_name, item.error or APOLOGY)
        for item in checked
    ]
    # A static table: at most ten rows, every reason read in full.
    st.table(rows)


def render_verdict(result: VideoResult, scorer: EnsembleScorer) -> None:
    verdict, thresholds = result.verdict, result.thresholds
    show = {"fake": st.error, "real": st.success, "uncertain": st.warning}[presentation.verdict_tone(verdict)]
    show(f"**{presentation.verdict_headline(verdict)}**\n\n{verdict.reason}")
    caveat = model_summary.clean_result_caveat(verdict.label, [member.card.metrics for member in scorer.scorers])
    if caveat:
        st.info(caveat)
    st.caption(presentation.probability_explanation(verdict, thresholds.fake, thresholds.uncertain_low))
    st.caption(presentation.video_summary(result))
    for note in result.notes:
        st.info(note)
    lines = disagreement.summary_lines(result)
    if lines:
        (st.warning if disagreement.disagreeing_people(result) else st.caption)("\n\n".join(lines))


def render_downloads(item: Checked, result: VideoResult, config: AnalysisConfig, scorer: EnsembleScorer) -> None:
    """The report and the full result, right under the verdict."""
    cards = [member.card for member in scorer.scorers]
    lock = _analysis_lock()
    # The heatmaps the page already made ("Show where the model looked") serve the report too.
    shown = st.session_state.get("explanations", {}).get(item.key)

    def build_report() -> report.Report:
        # Called only when a report button is clicked, on Streamlit's download thread: reruns never wait for it.
        overlays = shown
        if overlays is None:
            with lock:
                overlays = explain.explain_top_faces(result, scorer)
        return report.build_report(
            result, cards, config, item.file_name, len(item.data), uploads.upload_digest(item.data), overlays=overlays
        )

    downloads = [
        ("Report (PDF)", lambda: report_files.to_pdf(build_report()), "pdf", "application/pdf"),
        ("Report (HTML)", lambda: report_files.to_html(build_report()), "html", "text/html"),
        (
            "Report (JSON)",
            json.dumps(export.result_to_dict(result, item.file_name, config), indent=2),
            "json",
            "application/json",
        ),
        ("Scores per frame (CSV)", export.result_to_csv(result, item.file_name), "csv", "text/csv"),
    ]
    buttons = st.container(horizontal=True)
    for label, content, suffix, mime in downloads:
        buttons.download_button(
            label,
            content,
            file_name=presentation.report_file_name(item.file_name, suffix),
            mime=mime,
            on_click="ignore",
            key=f"{label}-{item.key}",
        )
    st.caption(
        "The report (PDF or HTML) is for people: the verdict, the evidence behind it and what the check cannot tell. "
        "The full result (JSON, CSV): every sampled frame with its faces and scores, and the settings."
    )


def _forget_stale(store: dict, key: object) -> None:
    """Drops what ``store`` holds for results no longer remembered (``RESULTS_REMEMBERED``)."""
    remembered = st.session_state.get("results", {})
    for old in [old for old in store if old not in remembered and old != key]:
        store.pop(old)


@st.fragment
def render_annotated(item: Checked, result: VideoResult, config: AnalysisConfig) -> None:
    """The annotated copy, made on request (rerunning only this section) and remembered with the result."""
    photo = result.info.is_photo
    suffix, mime = annotate.annotated_file_type(result)
    store: dict = st.session_state.setdefault("annotated", {})
    if item.key not in store:
        if not st.button(
            "Make the annotated photo" if photo else "Make the annotated video",
            key=f"annotate-{item.key}",
            help=f"The {'photo' if photo else 'video'} with each face the checker scored boxed and labelled with its "
            "fake probability, to look at here or to share. Takes a few seconds.",
        ):
            return
        with (
            st.spinner("Drawing the boxes and scores…"),
            _analysis_lock(),
            uploads.saved_upload(item.data, item.file_name) as path,
            tempfile.TemporaryDirectory(prefix="annotated-") as folder,
        ):
            out = annotate.write_annotated(
                path, result, Path(folder) / f"annotated{suffix}", analysis_max_side=config.max_frame_side
            )
            store[item.key] = out.read_bytes()
        _forget_stale(store, item.key)
    st.markdown("**Annotated photo**" if photo else "**Annotated video**")
    if photo:
        st.image(store[item.key])
    else:
        st.video(store[item.key], format=mime)
    st.caption(annotate.describe(result))
    st.download_button(
        "Download the annotated photo (PNG)" if photo else "Download the annotated video (MP4)",
        store[item.key],
        file_name=presentation.report_file_name(item.file_name, suffix.lstrip(".")),
        mime=mime,
        on_click="ignore",
        key=f"annotated-download-{item.key}",
    )


def render_chart(result: VideoResult) -> None:
    if len(result.frames) == 1 and result.tracks:
        # One frame (a photo): a chart of one point says less than the number itself.
        st.subheader("The score")
        st.markdown("\n".join(f"- {line}" for line in presentation.single_frame_scores(result)))
        return
    st.subheader("Frame by frame")
    if not result.tracks:
        st.caption("No face was scored, so there is nothing to plot.")
        return
    thresholds = result.thresholds
    figure = charts.frame_probability_figure(result, thresholds.fake, thresholds.uncertain_low)
    st.plotly_chart(figure, width="stretch")
    st.caption(
        "Each point is the fake probability of one person's face in one sampled frame. Gaps in a line are frames "
        "in which that person's face was not found (or was too small to judge); no value is made up for them. "
        "At or above the dashed line a face looks manipulated; the grey band is the inconclusive range."
    )


def _explanations(result: VideoResult, scorer: EnsembleScorer, key: object) -> dict[tuple[int, int], object]:
    """Each person's most suspicious faces with their Grad-CAM overlay, computed once per result."""
    cache: dict = st.session_state.setdefault("explanations", {})
    if key not in cache:
        with st.spinner("Working out where the model looked…"), _analysis_lock():
            cache[key] = explain.explain_top_faces(result, scorer)
        _forget_stale(cache, key)
    return cache[key]


def _render_explained(result: VideoResult, track_id: int, overlays: dict[tuple[int, int], object]) -> None:
    """One person's explained faces: each crop beside its overlay, then what the overlay means."""
    scores = {(score.frame_index, score.track_id): score for score in result.face_scores}
    keys = [key for key in overlays if key[1] == track_id]
    if not keys:
        return
    columns = st.columns(2 * EXPLAINED_PER_PERSON)
    for index, key in enumerate(keys):
        columns[2 * index].image(
            result.crops[key], caption=presentation.face_caption(scores[key], result.thresholds), width="stretch"
        )
        columns[2 * index + 1].image(overlays[key], caption="Where the model looked", width="stretch")
    st.caption(presentation.EXPLANATION_CAPTION)


@st.fragment
def render_faces(item: Checked, result: VideoResult, scorer: EnsembleScorer) -> None:
    """The faces the model looked at; where it looked, on request (rerunning only this section)."""
    people = presentation.face_gallery(result, MAX_FACES_SHOWN)
    if not people:
        return
    st.subheader("Faces the model looked at")
    st.caption(
        "Most suspicious first. Under each face: its fake probability (0 looks real, 1 looks manipulated) and when "
        "it appears in the video."
    )
    explaining = st.toggle(
        presentation.EXPLANATION_TOGGLE,
        key=f"explain-{item.key}",
        help=f"Colours each person's {EXPLAINED_PER_PERSON} most suspicious faces by how much each area raised the "
        "fake probability. Takes a few seconds: one more pass through the model.",
    )
    overlays = _explanations(result, scorer, item.key) if explaining else {}
    for person in people:
        if len(people) > 1:
            st.markdown(f"**{person.label}** — {presentation.verdict_headline(person.verdict)}")
        for start in range(0, len(person.faces), FACES_PER_ROW):
            columns = st.columns(FACES_PER_ROW)
            for column, score in zip(columns, person.faces[start : start + FACES_PER_ROW], strict=False):
                column.image(
                    result.crops[(score.frame_index, score.track_id)],
                    caption=presentation.face_caption(score, result.thresholds),
                    width="stretch",
                )
        if person.total > len(person.faces):
            st.caption(f"Showing the {len(person.faces)} most suspicious of {person.total} faces of {person.label}.")
        _render_explained(result, person.track_id, overlays)


def render_video(item: Checked, result: VideoResult) -> None:
    if result.info.is_photo:
        st.subheader("The photo")
        st.image(item.data)
        return
    st.subheader("The video")
    if presentation.browser_can_play(result.info):
        st.video(item.data, format=presentation.video_mime_type(result.info))
    else:
        st.info(presentation.playback_note(result.info))


@st.fragment
def render_stability(item: Checked, result: VideoResult, scorer: EnsembleScorer, config: AnalysisConfig) -> None:
    """Whether the verdict survives the re-encoding a shared copy gets: checked on request, remembered."""
    st.subheader("Stability check")
    if not stability.can_check(result):
        st.caption("There is no verdict to check: the checker could not judge this file.")
        return
    store: dict = st.session_state.setdefault("stability", {})
    if item.key not in store:
        st.caption(
            "Social platforms shrink and compress what is shared. This makes such a copy (smaller, low quality) and "
            "checks it again, to see whether the verdict survives. Takes a few seconds."
        )
        if not st.button("Check stability", key=f"stability-{item.key}"):
            return
        detector = _face_detector(config.detector_model, config.min_face_confidence)
        with (
            st.spinner("Re-encoding and checking again…"),
            _analysis_lock(),
            uploads.saved_upload(item.data, item.file_name) as path,
        ):
            store[item.key] = stability.check_stability(path, result, scorer, config, detector=detector)
        _forget_stale(store, item.key)
    checked = store[item.key]
    (st.success if checked.holds else st.warning)(checked.sentence)


def render_about_model(scorer: EnsembleScorer, aggregation: str) -> None:
    """A short summary and one small table; every figure behind it in an expander."""
    st.subheader("About the model")
    if len(scorer.scorers) > 1:
        what = f"the average of {len(scorer.scorers)} models ({', '.join(scorer.names)})"
        measured = scorer.selection or {}
    else:
        what, measured = model_summary.plain_kind(scorer.card), scorer.card.metrics
    rows = model_summary.measured_rows(measured)
    st.write(" ".join(model_summary.summary_sentences(what, rows)))
    if rows:
        # A static table: four short rows, read whole at a glance, every column visible.
        st.table(model_summary.table_rows(rows))
    if len(scorer.scorers) > 1 and scorer.selection is None:
        st.caption(
            f"Thresholds were not fitted for this selection, so those of {scorer.card.name} alone are used: "
            "the figures below are each model's own, not the average's."
        )
    with st.expander("All measurements"):
        if len(scorer.scorers) > 1 and scorer.selection is not None:
            st.markdown(f"**The {len(scorer.scorers)} models together** (the mean of their calibrated probabilities)")
            together = {"validation": scorer.selection["validation"], "decisions": scorer.selection["decisions"]}
            st.markdown(model_facts.markdown_blocks(model_facts.metric_lines(together)))
            st.caption(f"How the thresholds were chosen: {scorer.thresholds.chosen_on}.")
        for member in scorer.scorers:
            card = member.card
            st.markdown(f"**{card.name}**, version {card.version}: {card.description}")
            facts = [f"What it is: {model_summary.plain_kind(card)}", *model_facts.training_lines(card.training)]
            st.markdown("\n".join(f"- {line}" for line in facts))
            st.markdown(model_facts.markdown_blocks(model_facts.metric_lines(card.metrics)))
            st.caption(
                "These numbers are for single face crops unless they say videos, and only for the kind of data "
                "named. " + " ".join(model_facts.thresholds_lines(card, aggregation))
            )
            if card.limitations:
                st.markdown("**Limitations**")
                st.markdown("\n".join(f"- {limitation}" for limitation in card.limitations))


def render_checked(item: Checked, folder: Path, names: list[str], config: AnalysisConfig) -> None:
    """One file's full result: what the reviewer came for first, the evidence after."""
    if item.result is None:
        st.error(item.error or APOLOGY)
        return
    result, scorer = item.result, _scorer(str(folder), tuple(names))
    render_verdict(result, scorer)
    render_downloads(item, result, config, scorer)
    render_annotated(item, result, config)
    render_chart(result)
    render_faces(item, result, scorer)
    render_video(item, result)
    render_stability(item, result, scorer, config)
    render_about_model(scorer, config.aggregation)


def render_scope(cards: list[model_card.ModelCard], expanded: bool) -> None:
    """What the checker can and cannot judge, for the chosen models: open until files are dropped, then folded
    above their results."""
    with st.expander(presentation.SCOPE_TITLE, expanded=expanded):
        st.markdown("\n".join(f"- {line}" for line in model_facts.scope_lines(cards)))


def main() -> None:
    st.set_page_config(page_title=TITLE, page_icon=":material/fact_check:", layout="centered")
    st.title(TITLE)
    st.write(INTRODUCTION)

    folder = model_card.models_folder()
    try:
        # Each card is read once a page run; the scorer reads its own once per process.
        cards = {name: model_card.read_card(name, folder) for name in model_card.available_models(folder)}
        default_model = model_card.default_model(folder) if cards else ""
    except DetectorError as error:
        st.error(f"{error}\n\n{presentation.error_hint(error)}")
        return
    if not cards:
        st.error(presentation.no_model_message(folder))
        return

    names, config = render_settings(AnalysisConfig(), cards, default_model)
    dropped = st.file_uploader(
        "Videos or photos to check",
        type=list(uploads.ACCEPTED_TYPES),
        accept_multiple_files=True,
        help=f"Up to {uploads.MAX_FILES} at once. Videos: MP4, MOV, M4V, AVI, WebM or MKV. Photos: JPEG, PNG or WebP.",
    )
    st.caption("Uploaded files are deleted from the server as soon as they have been checked.")
    render_scope([cards[name] for name in names], expanded=not dropped)
    if not names:
        st.warning("Choose at least one model under Settings, then press Apply.")
        return
    if not dropped:
        return

    kept, refusals = uploads.within_limits([item.size for item in dropped], uploads.MAX_FILES, _upload_limit_bytes())
    for refusal in refusals:
        st.warning(refusal)
    files = dropped[:kept]
    checked = []
    for number, uploaded in enumerate(files, start=1):
        position = f"File {number} of {len(files)}, {uploaded.name}: " if len(files) > 1 else ""
        checked.append(check(uploaded, folder, names, config, position))
    if not checked:
        return
    chosen = checked[0]
    if len(checked) > 1:
        render_summary(checked)
        index = st.selectbox(
            "Full result of",
            range(len(checked)),
            format_func=lambda number: presentation.choice_label(checked[number].file_name, checked[number].result),
        )
        chosen = checked[index]
        st.subheader(chosen.file_name)
    try:
        render_checked(chosen, folder, names, config)
    except DetectorError as error:
        st.error(f"{error}\n\n{presentation.error_hint(error)}")
    except Exception:
        logger.exception("showing the result of %r failed", chosen.file_name)
        st.error(APOLOGY)


main()
