"""The deepfake checker's page: drop videos or photos, read each verdict and the evidence behind it, share it.

Layout, widgets and rendering only (the sections under a verdict, and what a session keeps, in ``page/``); every
computation is in ``detector/``, which never imports Streamlit. Run with ``streamlit run streamlit_app.py``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import streamlit as st

from detector.analysis import disagreement, uploads
from detector.analysis.aggregation import STRATEGIES
from detector.analysis.scoring import EnsembleScorer
from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.models import model_card
from detector.outputs import explain, export, model_facts, model_summary, presentation, report, report_files
from detector.types import VideoResult
from page import evidence, session
from page.session import APOLOGY, Checked

logger = logging.getLogger("streamlit_app")

TITLE = "Deepfake video checker"
INTRODUCTION = (
    "Upload a video of a person and the checker looks for signs that their face was swapped or altered. It samples "
    "frames, finds the faces in them and asks a trained model how manipulated each face looks, then combines those "
    "scores into one verdict. It judges faces only: it does not listen to the audio, and it cannot recognise a "
    "video that was generated from scratch or edited elsewhere in the picture. Its score is evidence, not proof: "
    "use it alongside your own checks of the source."
)


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
    lock = session.analysis_lock()
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


def render_checked(item: Checked, folder: Path, names: list[str], config: AnalysisConfig) -> None:
    """One file's full result: what the reviewer came for first, the evidence after."""
    if item.result is None:
        st.error(item.error or APOLOGY)
        return
    result, scorer = item.result, session.cached_scorer(str(folder), tuple(names))
    render_verdict(result, scorer)
    render_downloads(item, result, config, scorer)
    evidence.render_annotated(item, result, config)
    evidence.render_chart(result)
    evidence.render_faces(item, result, scorer)
    evidence.render_video(item, result)
    evidence.render_stability(item, result, scorer, config)
    evidence.render_about_model(scorer, config.aggregation)


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

    kept, refusals = uploads.within_limits(
        [item.size for item in dropped], uploads.MAX_FILES, session.upload_limit_bytes()
    )
    for refusal in refusals:
        st.warning(refusal)
    files = dropped[:kept]
    checked = []
    for number, uploaded in enumerate(files, start=1):
        position = f"File {number} of {len(files)}, {uploaded.name}: " if len(files) > 1 else ""
        checked.append(session.check(uploaded, folder, names, config, position))
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
