"""The evidence under a verdict, section by section: the annotated copy, the chart, the faces (and where the
model looked), the upload itself, the stability check and what the model is. Each reads the result; the slow ones
run on request and are remembered with it (``session``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from detector.analysis import uploads
from detector.analysis.scoring import EnsembleScorer
from detector.config import AnalysisConfig
from detector.outputs import annotate, charts, explain, model_facts, model_summary, presentation, stability
from detector.types import VideoResult
from page import session

FACES_PER_ROW = 8
MAX_FACES_SHOWN = 24
EXPLAINED_PER_PERSON = explain.EXPLAINED_PER_PERSON


@st.fragment
def render_annotated(item: session.Checked, result: VideoResult, config: AnalysisConfig) -> None:
    """The annotated copy, made on request (rerunning only this section) and remembered with the result."""
    photo = result.info.is_photo
    suffix, mime = annotate.annotated_file_type(result)
    store: dict = st.session_state.setdefault("annotated", {})
    if item.key not in store:
        # The offer goes once taken: the copy appears in its place, not under a button that would do nothing more.
        offer = st.empty()
        if not offer.button(
            "Make the annotated photo" if photo else "Make the annotated video",
            key=f"annotate-{item.key}",
            help=f"The {'photo' if photo else 'video'} with each face the checker scored boxed and labelled with its "
            "fake probability, to look at here or to share. Takes a few seconds.",
        ):
            return
        offer.empty()
        with (
            st.spinner("Drawing the boxes and scores…"),
            session.analysis_lock(),
            uploads.saved_upload(item.data, item.file_name) as path,
            tempfile.TemporaryDirectory(prefix="annotated-") as folder,
        ):
            out = annotate.write_annotated(
                path, result, Path(folder) / f"annotated{suffix}", analysis_max_side=config.max_frame_side
            )
            store[item.key] = out.read_bytes()
        session.forget_stale(store, item.key)
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
        with st.spinner("Working out where the model looked…"), session.analysis_lock():
            cache[key] = explain.explain_top_faces(result, scorer)
        session.forget_stale(cache, key)
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
def render_faces(item: session.Checked, result: VideoResult, scorer: EnsembleScorer) -> None:
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


def render_video(item: session.Checked, result: VideoResult) -> None:
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
def render_stability(
    item: session.Checked, result: VideoResult, scorer: EnsembleScorer, config: AnalysisConfig
) -> None:
    """Whether the verdict survives the re-encoding a shared copy gets: checked on request, remembered."""
    st.subheader("Stability check")
    if not stability.can_check(result):
        st.caption("There is no verdict to check: the checker could not judge this file.")
        return
    store: dict = st.session_state.setdefault("stability", {})
    if item.key not in store:
        # The offer goes once taken: the answer appears in its place, not under a button that would do nothing more.
        place = st.empty()
        offer = place.container()
        offer.caption(
            "Social platforms shrink and compress what is shared. This makes such a copy (smaller, low quality) and "
            "checks it again, to see whether the verdict survives. Takes a few seconds."
        )
        if not offer.button("Check stability", key=f"stability-{item.key}"):
            return
        place.empty()
        detector = session.cached_face_detector(config.detector_model, config.min_face_confidence)
        with (
            st.spinner("Re-encoding and checking again…"),
            session.analysis_lock(),
            uploads.saved_upload(item.data, item.file_name) as path,
        ):
            store[item.key] = stability.check_stability(path, result, scorer, config, detector=detector)
        session.forget_stale(store, item.key)
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
