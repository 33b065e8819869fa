"""The deepfake checker's page: upload a video, read the verdict and the evidence behind it.

Layout, widgets and rendering only; every computation is in ``detector/``. Run with ``streamlit run streamlit_app.py``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
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
    "Sorry, something went wrong while checking this video. The problem has been logged for the people who "
    "maintain the checker. You can try again, or try another copy of the video."
)
FACES_PER_ROW = 8
MAX_FACES_SHOWN = 24
RESULTS_REMEMBERED = 4
EXPLAINED_PER_PERSON = 3


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


def render_settings(
    defaults: AnalysisConfig, folder: Path, models: list[str], default_model: str
) -> tuple[list[str], AnalysisConfig]:
    """The sidebar; returns the chosen models and the analysis configuration."""
    st.sidebar.header("Settings")
    names = st.sidebar.multiselect(
        "Model",
        models,
        default=[default_model],
        help="Choose several to average their scores (an ensemble). “About the model” below the result has each "
        "model's full measurements.",
    )
    for name in names:
        st.sidebar.caption(model_facts.model_choice_line(model_card.read_card(name, folder)))
    frame_count = st.sidebar.slider(
        "Frames to sample",
        8,
        64,
        defaults.frames_to_sample,
        help="Evenly spaced frames to examine. More frames: a steadier verdict, a slower check.",
    )
    strategies = sorted(STRATEGIES, key=list(presentation.STRATEGY_EXPLANATIONS).index)
    aggregation = st.sidebar.selectbox(
        "How to combine frames",
        strategies,
        index=strategies.index(defaults.aggregation),
        help="\n\n".join(f"**{name}**: {presentation.STRATEGY_EXPLANATIONS[name]}" for name in strategies),
    )
    st.sidebar.caption(presentation.STRATEGY_EXPLANATIONS[aggregation])
    with st.sidebar.expander("Advanced"):
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
    config = defaults.replace(
        frames_to_sample=frame_count,
        aggregation=aggregation,
        min_face_size=min_face_size,
        min_face_confidence=min_face_confidence,
    )
    return names, config


def run_analysis(data: bytes, file_name: str, folder: Path, names: list[str], config: AnalysisConfig) -> VideoResult:
    """Analyses the uploaded bytes with a progress bar; the temporary copy is deleted when it ends."""
    bar = st.progress(0.0, text="Waiting for the checker…")

    def progress(stage: str, fraction: float, message: str) -> None:
        bar.progress(presentation.overall_progress(stage, fraction), text=message)

    try:
        scorer = _scorer(str(folder), tuple(names))
        detector = _face_detector(config.detector_model, config.min_face_confidence)
        with _analysis_lock(), uploads.saved_upload(data, file_name) as path:
            return pipeline.analyze(path, scorer, config, detector=detector, progress=progress)
    finally:
        bar.empty()


def render_verdict(result: VideoResult, thresholds: tuple[float, float]) -> None:
    verdict = result.verdict
    show = {"fake": st.error, "real": st.success, "uncertain": st.warning}[presentation.verdict_tone(verdict)]
    show(f"**{presentation.verdict_headline(verdict)}**\n\n{verdict.reason}")
    st.caption(presentation.probability_explanation(verdict, *thresholds))
    st.caption(presentation.video_summary(result))
    for note in result.notes:
        st.info(note)
    render_disagreement(result)


def render_disagreement(result: VideoResult) -> None:
    """With several models: whether they agree on each person, and the frames where they point opposite ways."""
    lines = disagreement.summary_lines(result)
    if not lines:
        return
    show = st.warning if disagreement.disagreeing_people(result) else st.caption
    show("\n\n".join(lines))


def render_chart(result: VideoResult, thresholds: tuple[float, float]) -> None:
    if len(result.frames) == 1 and result.tracks:
        # One frame (a photo): a chart of one point says less than the number itself.
        st.subheader("The score")
        st.markdown("\n".join(f"- {line}" for line in presentation.single_frame_scores(result)))
        return
    st.subheader("Frame by frame")
    if not result.tracks:
        st.caption("No face was scored, so there is nothing to plot.")
        return
    st.plotly_chart(charts.frame_probability_figure(result, *thresholds), width="stretch")
    st.caption(
        "Each point is the fake probability of one person's face in one sampled frame. Gaps in a line are frames "
        "in which that person's face was not found (or was too small to judge); no value is made up for them. "
        "At or above the dashed line a face looks manipulated; the grey band is the inconclusive range."
    )


def explanations(result: VideoResult, scorer: EnsembleScorer, key: object) -> dict[tuple[int, int], object]:
    """Each person's most suspicious faces with their Grad-CAM overlay, computed once per result."""
    cache: dict = st.session_state.setdefault("explanations", {})
    if key not in cache:
        with st.spinner("Working out where the model looked…"), _analysis_lock():
            cache[key] = explain.explain_top_faces(result, scorer, EXPLAINED_PER_PERSON)
        remembered = st.session_state.get("results", {})
        for old in [old for old in cache if old not in remembered and old != key]:
            cache.pop(old)
    return cache[key]


def render_explanations(result: VideoResult, track_id: int, overlays: dict[tuple[int, int], object]) -> None:
    """One person's explained faces: each crop beside its overlay, then what the overlay means."""
    scores = {(score.frame_index, score.track_id): score for score in result.face_scores}
    keys = [key for key in overlays if key[1] == track_id]
    if not keys:
        return
    columns = st.columns(2 * EXPLAINED_PER_PERSON)
    for index, key in enumerate(keys):
        caption = presentation.face_caption(scores[key])
        columns[2 * index].image(result.crops[key], caption=caption, width="stretch")
        columns[2 * index + 1].image(overlays[key], caption="Where the model looked", width="stretch")
    st.caption(presentation.EXPLANATION_CAPTION)


def render_faces(result: VideoResult, scorer: EnsembleScorer, key: object) -> None:
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
        help=f"Colours each person's {EXPLAINED_PER_PERSON} most suspicious faces by how much each area raised the "
        "fake probability. Takes a few seconds: one more pass through the model.",
    )
    overlays = explanations(result, scorer, key) if explaining else {}
    for person in people:
        if len(people) > 1:
            st.markdown(f"**{person.label}** — {presentation.verdict_headline(person.verdict)}")
        for start in range(0, len(person.faces), FACES_PER_ROW):
            columns = st.columns(FACES_PER_ROW)
            for column, score in zip(columns, person.faces[start : start + FACES_PER_ROW], strict=False):
                column.image(
                    result.crops[(score.frame_index, score.track_id)],
                    caption=presentation.face_caption(score),
                    width="stretch",
                )
        if person.total > len(person.faces):
            st.caption(f"Showing the {len(person.faces)} most suspicious of {person.total} faces of {person.label}.")
        render_explanations(result, person.track_id, overlays)


def render_video(data: bytes, result: VideoResult) -> None:
    if result.info.is_photo:
        st.subheader("The photo")
        st.image(data)
        return
    st.subheader("The video")
    if presentation.browser_can_play(result.info):
        st.video(data, format=presentation.video_mime_type(result.info))
    else:
        st.info(presentation.playback_note(result.info))


def _forget_stale(store: dict, key: object) -> None:
    """Drops what ``store`` holds for results no longer remembered (``RESULTS_REMEMBERED``)."""
    remembered = st.session_state.get("results", {})
    for old in [old for old in store if old not in remembered and old != key]:
        store.pop(old)


def render_annotated(
    result: VideoResult,
    data: bytes,
    file_name: str,
    config: AnalysisConfig,
    thresholds: tuple[float, float],
    key: object,
) -> None:
    """The annotated video (a photo: the annotated photo), made on request and remembered with the result."""
    photo = result.info.is_photo
    st.subheader("Annotated photo" if photo else "Annotated video")
    store: dict = st.session_state.setdefault("annotated", {})
    if key not in store:
        st.caption(
            f"The {'photo' if photo else 'video'} with each face the checker scored boxed and labelled with its fake "
            "probability, to look at here or to share. Takes a few seconds."
        )
        if not st.button("Make the annotated photo" if photo else "Make the annotated video"):
            return
        with (
            st.spinner("Drawing the boxes and scores…"),
            _analysis_lock(),
            uploads.saved_upload(data, file_name) as path,
            tempfile.TemporaryDirectory(prefix="annotated-") as folder,
        ):
            out = Path(folder) / ("annotated.png" if photo else "annotated.mp4")
            if photo:
                annotate.write_annotated_photo(path, result, out, *thresholds, analysis_max_side=config.max_frame_side)
            else:
                annotate.write_annotated_video(path, result, out, *thresholds, analysis_max_side=config.max_frame_side)
            store[key] = out.read_bytes()
        _forget_stale(store, key)
    if photo:
        st.image(store[key])
    else:
        st.video(store[key], format="video/mp4")
    st.caption(annotate.describe(result, *thresholds))
    st.download_button(
        "Download the annotated photo (PNG)" if photo else "Download the annotated video (MP4)",
        store[key],
        file_name=presentation.report_file_name(file_name, "png" if photo else "mp4"),
        mime="image/png" if photo else "video/mp4",
        on_click="ignore",
    )


def render_stability(
    result: VideoResult, data: bytes, file_name: str, scorer: EnsembleScorer, config: AnalysisConfig, key: object
) -> None:
    """Whether the verdict survives the re-encoding a shared copy gets: checked on request, remembered."""
    st.subheader("Stability check")
    if not stability.can_check(result):
        st.caption("There is no verdict to check: the checker could not judge this file.")
        return
    store: dict = st.session_state.setdefault("stability", {})
    if key not in store:
        st.caption(
            "Social platforms shrink and compress what is shared. This makes such a copy (smaller, low quality) and "
            "checks it again, to see whether the verdict survives. Takes a few seconds."
        )
        if not st.button("Check stability"):
            return
        detector = _face_detector(config.detector_model, config.min_face_confidence)
        with (
            st.spinner("Re-encoding and checking again…"),
            _analysis_lock(),
            uploads.saved_upload(data, file_name) as path,
        ):
            store[key] = stability.check_stability(path, result, scorer, config, detector=detector)
        _forget_stale(store, key)
    checked = store[key]
    (st.success if checked.holds else st.warning)(checked.sentence)


def render_scope(folder: Path, names: list[str]) -> None:
    """What the checker can and cannot judge, for the chosen models: shown open, before and after a check."""
    try:
        cards = [model_card.read_card(name, folder) for name in names]
    except DetectorError:
        # The analysis reports a damaged card with its own message; the scope note stays generic meanwhile.
        logger.warning("could not read the cards of %s for the scope note", names, exc_info=True)
        cards = []
    with st.expander(presentation.SCOPE_TITLE, expanded=True):
        st.markdown("\n".join(f"- {line}" for line in model_facts.scope_lines(cards)))


def render_selection(scorer: EnsembleScorer) -> None:
    """What the selected models measure together: their thresholds were chosen for the average, not borrowed."""
    st.markdown(f"**The {len(scorer.scorers)} models together** (the mean of their calibrated probabilities)")
    if scorer.selection is None:
        st.caption(
            f"Thresholds were not fitted for this selection, so those of {scorer.card.name} alone are used: "
            "the rates below are each model's own, not the average's."
        )
        return
    measured = {"validation": scorer.selection["validation"], "decisions": scorer.selection["decisions"]}
    st.markdown(model_facts.markdown_blocks(model_facts.metric_lines(measured)))
    st.caption(f"How the thresholds were chosen: {scorer.thresholds.chosen_on}.")


def render_model_card(scorer: EnsembleScorer) -> None:
    st.subheader("About the model")
    if len(scorer.scorers) > 1:
        render_selection(scorer)
    for member in scorer.scorers:
        card = member.card
        st.markdown(f"**{card.name}**, version {card.version}: {card.description}")
        facts = [f"Architecture: {card.architecture}", *model_facts.training_lines(card.training)]
        st.markdown("\n".join(f"- {line}" for line in facts))
        st.markdown("**Measured quality**")
        st.markdown(model_facts.markdown_blocks(model_facts.metric_lines(card.metrics)))
        st.caption(
            "These numbers are for single face crops, not whole videos, and only for the kind of data named. "
            f"How the thresholds were chosen: {card.thresholds.chosen_on}."
        )
        if card.limitations:
            st.markdown("**Limitations**")
            st.markdown("\n".join(f"- {limitation}" for limitation in card.limitations))


def render_downloads(
    result: VideoResult, file_name: str, config: AnalysisConfig, data: bytes, scorer: EnsembleScorer, key: object
) -> None:
    st.subheader("Download the result")
    st.caption(
        "The report (PDF or HTML) is for people: the verdict, the evidence behind it and what the check cannot tell. "
        "The full result (JSON, CSV): the verdict, every sampled frame with its faces and scores, and the settings."
    )
    cards = [member.card for member in scorer.scorers]
    lock = _analysis_lock()
    # The heatmaps the page already made ("Show where the model looked") serve the report too.
    shown = st.session_state.get("explanations", {}).get(key)

    def build_report() -> report.Report:
        # Called only when a report button is clicked, on Streamlit's download thread: reruns never wait for it.
        overlays = shown
        if overlays is None:
            with lock:
                overlays = explain.explain_top_faces(result, scorer, EXPLAINED_PER_PERSON)
        return report.build_report(
            result,
            cards,
            config,
            file_name,
            len(data),
            uploads.upload_digest(data),
            overlays=overlays,
            thresholds=scorer.thresholds,
        )

    downloads = [
        ("Report (PDF)", lambda: report_files.to_pdf(build_report()), "pdf", "application/pdf"),
        ("Report (HTML)", lambda: report_files.to_html(build_report()), "html", "text/html"),
        (
            "Report (JSON)",
            json.dumps(export.result_to_dict(result, file_name, config), indent=2),
            "json",
            "application/json",
        ),
        ("Scores per frame (CSV)", export.result_to_csv(result, file_name), "csv", "text/csv"),
    ]
    buttons = st.container(horizontal=True)
    for label, content, suffix, mime in downloads:
        buttons.download_button(
            label,
            content,
            file_name=presentation.report_file_name(file_name, suffix),
            mime=mime,
            on_click="ignore",
        )


def render_result(
    result: VideoResult, data: bytes, file_name: str, scorer: EnsembleScorer, config: AnalysisConfig, key: object
) -> None:
    thresholds = pipeline.decision_thresholds(config, scorer.thresholds)
    render_verdict(result, thresholds)
    render_chart(result, thresholds)
    render_faces(result, scorer, key)
    render_video(data, result)
    render_annotated(result, data, file_name, config, thresholds, key)
    render_stability(result, data, file_name, scorer, config, key)
    render_model_card(scorer)
    render_downloads(result, file_name, config, data, scorer, key)


def main() -> None:
    st.set_page_config(page_title=TITLE, page_icon=":material/fact_check:", layout="centered")
    st.title(TITLE)
    st.write(INTRODUCTION)

    folder = model_card.models_folder()
    try:
        models = model_card.available_models(folder)
        default_model = model_card.default_model(folder) if models else ""
    except DetectorError as error:
        st.error(f"{error}\n\n{presentation.error_hint(error)}")
        return
    if not models:
        st.error(presentation.no_model_message(folder))
        return

    names, config = render_settings(AnalysisConfig(), folder, models, default_model)
    uploaded = st.file_uploader(
        "Video or photo to check",
        type=list(uploads.ACCEPTED_TYPES),
        help="Videos: MP4, MOV, M4V, AVI, WebM or MKV. Photos: JPEG, PNG or WebP.",
    )
    st.caption("The uploaded file is deleted from the server as soon as it has been checked.")
    render_scope(folder, names)
    if not names:
        st.warning("Choose at least one model under Settings.")
        return
    if uploaded is None:
        return

    data = uploaded.getvalue()
    key = uploads.analysis_key(uploads.upload_digest(data), names, config)
    results: dict = st.session_state.setdefault("results", {})
    try:
        if key not in results:
            results[key] = run_analysis(data, uploaded.name, folder, names, config)
            while len(results) > RESULTS_REMEMBERED:
                results.pop(next(iter(results)))
        render_result(results[key], data, uploaded.name, _scorer(str(folder), tuple(names)), config, key)
    except DetectorError as error:
        st.error(f"{error}\n\n{presentation.error_hint(error)}")
    except Exception:
        logger.exception("checking %r failed", uploaded.name)
        st.error(APOLOGY)


main()
