"""Words and choices for showing a result to a person: pure functions, no user interface.

The page (``streamlit_app.py``) only lays these out. Everything a reviewer reads about a result (the verdict, what
its probability means against which threshold, the faces, the video's format) is written here, so that it can be
tested and reused by other front ends; what a reviewer reads about the model is in ``detector/model_facts.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from detector import errors
from detector.types import (
    DecisionThresholds,
    FaceScore,
    Verdict,
    VerdictLabel,
    VideoInfo,
    VideoResult,
    person_label,
    threshold_text,
)

STRATEGY_EXPLANATIONS: dict[str, str] = {
    "mean": "Average of all frames: every frame counts the same.",
    "median": "Middle value of all frames: a few odd frames (blur, a turned head) do not move it.",
    "confident": "Trusts the frames where the model is sure, when there are enough of them; otherwise the "
    "average. Catches fakes that show only in some frames.",
}

# What browsers play inside a <video> element: H.264, VP9 and AV1 in MP4 (QuickTime .mov and .m4v are the same
# ISO file format, served as video/mp4), and VP8, VP9 and AV1 in WebM. HEVC plays only in some browsers, MPEG-4
# Part 2 and Motion JPEG in none; AVI and Matroska are not web containers.
BROWSER_CODECS: dict[str, frozenset[str]] = {
    "mp4": frozenset({"h264", "vp9", "av1"}),
    "mov": frozenset({"h264", "vp9", "av1"}),
    "m4v": frozenset({"h264", "vp9", "av1"}),
    "webm": frozenset({"vp8", "vp9", "av1"}),
}
_MIME_TYPES = {"mp4": "video/mp4", "mov": "video/mp4", "m4v": "video/mp4", "webm": "video/webm"}

CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "H.265 (HEVC)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "mjpeg": "Motion JPEG",
    "prores": "ProRes",
}
CONTAINER_NAMES = {"matroska": "MKV", "mov": "MOV (QuickTime)", "jpeg": "JPEG", "png": "PNG", "webp": "WebP"}

# How much of the progress bar each stage of ``pipeline.analyze`` fills: looking for faces dominates.
_STAGE_SPANS = {"reading": (0.0, 0.05), "faces": (0.05, 0.9), "scoring": (0.9, 1.0)}

_ERROR_HINTS: tuple[tuple[type[errors.DetectorError], str], ...] = (
    (
        errors.UnreadableVideoError,
        "Check that the file plays in a video player. If it does, export it again as MP4 and upload that copy.",
    ),
    (errors.VideoTooLargeError, "Cut the clip down to the part that shows the face, or compress it."),
    (errors.NoFaceFoundError, "The checker judges faces only: try a clip in which a face is clearly visible."),
    (
        errors.ModelNotFoundError,
        "The checker's model files are missing: ask the person who maintains the checker to install them.",
    ),
    (
        errors.ModelCardError,
        "The checker's model files are damaged or do not fit together: ask the person who maintains the checker. "
        "If you chose several models, try one at a time.",
    ),
)


@dataclass(frozen=True)
class PersonFaces:
    """One person's faces to show: the most suspicious first, at most a share of the gallery."""

    track_id: int
    label: str
    verdict: Verdict
    faces: tuple[FaceScore, ...]
    total: int


def verdict_tone(verdict: Verdict) -> str:
    """``"fake"``, ``"real"`` or ``"uncertain"``: the colour the verdict is shown in (red, green, grey)."""
    return {VerdictLabel.FAKE: "fake", VerdictLabel.REAL: "real", VerdictLabel.UNCERTAIN: "uncertain"}[verdict.label]


def verdict_headline(verdict: Verdict) -> str:
    """The verdict in plain words with its probability: ``"Likely manipulated — fake probability 0.87"``."""
    if verdict.fake_probability is None:
        return verdict.label.plain_words
    return f"{verdict.label.plain_words} — fake probability {verdict.probability_text()}"


def probability_explanation(verdict: Verdict, fake_threshold: float, uncertain_low: float) -> str:
    """One paragraph: what the fake probability is and which thresholds were in force."""
    fake, real, unsure = (label.plain_words for label in (VerdictLabel.FAKE, VerdictLabel.REAL, VerdictLabel.UNCERTAIN))
    high, low = threshold_text(fake_threshold), threshold_text(uncertain_low)
    if uncertain_low < fake_threshold:
        bands = (
            f"At {high} or above the checker says “{fake}”, from {low} up to {high} “{unsure}”, below {low} “{real}”."
        )
    else:
        bands = f"At {high} or above the checker says “{fake}”, below it “{real}”."
    scale = "The fake probability is the model's estimate from 0 (looks real) to 1 (looks manipulated)"
    if verdict.fake_probability is None:
        return f"{scale}. There was too little to judge here, so no probability is given. {bands}"
    frames = "frame" if verdict.frames_used == 1 else "frames"
    return (
        f"{scale}, combined over {verdict.frames_used} {frames} with a usable face (“{verdict.strategy}” "
        f"strategy). {bands}"
    )


def _format_name(value: str, names: Mapping[str, str]) -> str:
    return names.get(value.lower(), value.upper()) if value else "unknown"


def browser_can_play(info: VideoInfo) -> bool:
    """Whether a web browser plays this video's codec in this container."""
    return info.codec.lower() in BROWSER_CODECS.get(info.container.lower(), frozenset())


def video_mime_type(info: VideoInfo) -> str:
    """The MIME type to serve a playable video with (``video/mp4`` or ``video/webm``)."""
    return _MIME_TYPES.get(info.container.lower(), "video/mp4")


def playback_note(info: VideoInfo) -> str:
    """Why the video is not shown in the page, for one the browser cannot play."""
    return (
        f"This video is {_format_name(info.codec, CODEC_NAMES)} in {_format_name(info.container, CONTAINER_NAMES)}, "
        "which web browsers cannot play, so it is not shown here. The analysis above is not affected. To watch it "
        "here, make the annotated video below (it is re-encoded so that browsers play it), or open the file in a "
        "desktop video player such as VLC."
    )


def video_format(info: VideoInfo) -> str:
    """The codec and container in words: ``"H.264 in MP4"`` (``"H.264"`` when the container is not known).

    A photo: ``"JPEG photo"``.
    """
    if info.is_photo:
        return f"{_format_name(info.container, CONTAINER_NAMES)} photo"
    codec = _format_name(info.codec, CODEC_NAMES)
    return f"{codec} in {_format_name(info.container, CONTAINER_NAMES)}" if info.container else codec


def person_summary(track_id: int, verdict: Verdict) -> str:
    """One line per person: ``"Person 2: Likely manipulated, in 27 of 32 frames"``.

    The count is of the frames that agree with the verdict: at or above the threshold for "Likely manipulated",
    below the inconclusive band for "No sign of manipulation found".
    """
    label, words = person_label(track_id), verdict.label.plain_words
    used, above = verdict.frames_used, verdict.frames_above_threshold
    if verdict.fake_probability is None:
        frames = "frame" if used == 1 else "frames"
        return f"{label}: {words}, a usable face in only {used} {frames}"
    if verdict.label is VerdictLabel.FAKE:
        return f"{label}: {words}, in {above} of {used} frames"
    if verdict.label is VerdictLabel.REAL:
        return f"{label}: {words}, in {verdict.frames_below_low} of {used} frames"
    return f"{label}: {words}, {above} of {used} frames look manipulated"


def video_summary(result: VideoResult) -> str:
    """Size, length and format of the video, and how many frames were looked at and held a usable face."""
    info = result.info
    examined = len(result.frames)
    with_face = sum(1 for frame in result.frames if frame.faces)
    if info.is_photo:
        shows = "a face the model could judge" if with_face else "no face the model could judge"
        return f"{info.width} × {info.height} pixels, {video_format(info)}. It shows {shows}."
    return (
        f"{info.width} × {info.height} pixels, {info.duration_seconds:.1f} seconds at {info.fps:.3g} frames per "
        f"second, {_format_name(info.codec, CODEC_NAMES)} in {_format_name(info.container, CONTAINER_NAMES)}. "
        f"{examined} frames were examined; {with_face} of them showed a face the model could judge."
    )


def single_frame_scores(result: VideoResult) -> list[str]:
    """For a result of one frame (a photo), where a chart would show one point: each face's score in words.

    ``["Person 1: fake probability 0.87"]``, in person order; empty when the frame held no scored face.
    """
    if len(result.frames) != 1:
        raise ValueError(f"expected a result of one frame, got {len(result.frames)}")
    faces = sorted(result.frames[0].faces, key=lambda face: face.track_id)
    shown = result.thresholds.probability_text
    return [f"{person_label(face.track_id)}: fake probability {shown(face.fake_probability)}" for face in faces]


def face_gallery(result: VideoResult, max_faces: int = 24) -> list[PersonFaces]:
    """The faces to show, grouped by person, the most suspicious person and face first.

    At most ``max_faces`` in all: each person gets an equal share (at least one face). Only faces that have a
    crop in ``result.crops`` are listed.
    """
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    tracks = [track for track in result.tracks if track.scores]
    if not tracks:
        return []
    share = max(1, max_faces // len(tracks))

    def suspicion(track_scores: tuple[FaceScore, ...], verdict: Verdict) -> tuple[float, float]:
        judged = -1.0 if verdict.fake_probability is None else verdict.fake_probability
        return (judged, max(score.fake_probability for score in track_scores))

    people = []
    for track in sorted(tracks, key=lambda track: suspicion(track.scores, track.verdict), reverse=True):
        with_crop = [score for score in track.scores if (score.frame_index, score.track_id) in result.crops]
        ranked = sorted(with_crop, key=lambda score: (-score.fake_probability, score.frame_index))
        people.append(
            PersonFaces(track.track_id, person_label(track.track_id), track.verdict, tuple(ranked[:share]), len(ranked))
        )
    return people


def face_caption(score: FaceScore, thresholds: DecisionThresholds) -> str:
    """The caption under a face thumbnail: its fake probability (beside ``thresholds``) and when it appears."""
    return f"{thresholds.probability_text(score.fake_probability)} at {score.time_seconds:.1f} s"


def error_hint(error: errors.DetectorError) -> str:
    """What the person can do about an error the checker reported."""
    for kind, hint in _ERROR_HINTS:
        if isinstance(error, kind):
            return hint
    return "Try another copy of the video; if the problem stays, tell the person who maintains the checker."


def no_model_message(folder: Path) -> str:
    """What to say when no trained model is installed, and how to get one."""
    return (
        "No trained model is installed, so the checker cannot judge videos yet. Whoever maintains the checker can "
        "train one with `python -m detector train --name compact_v1` (this writes `compact_v1.keras` and its "
        f"model card `compact_v1.json` to `models/`), or copy a trained model and its card into `{folder}`."
    )


def overall_progress(stage: str, fraction: float) -> float:
    """The whole analysis's progress in [0, 1] from one stage's ``(stage, fraction)`` progress report."""
    start, end = _STAGE_SPANS.get(stage, (0.0, 1.0))
    return start + (end - start) * min(1.0, max(0.0, fraction))


def report_file_name(upload_name: str, extension: str) -> str:
    """The download's file name: ``clip.mp4`` -> ``clip-deepfake-check.json``."""
    stem = Path(upload_name).stem or "video"
    return f"{stem}-deepfake-check.{extension}"


def summary_row(file_name: str, verdict: Verdict) -> dict[str, str]:
    """One file's row in the table of several: its name, the verdict in words, the fake probability, the reason."""
    probability = "—" if verdict.fake_probability is None else verdict.probability_text()
    return {
        "File": file_name,
        "Verdict": verdict.label.plain_words,
        "Fake probability": probability,
        "Reason": verdict.reason,
    }


def error_row(file_name: str, message: str) -> dict[str, str]:
    """The row of a file that could not be checked: no verdict and no probability, the reason in its place."""
    return {"File": file_name, "Verdict": "Not checked", "Fake probability": "—", "Reason": message.split("\n\n")[0]}


def choice_label(file_name: str, result: VideoResult | None) -> str:
    """How a file is named where the reviewer picks whose full result to see."""
    return f"{file_name}: {result.verdict.label.plain_words if result is not None else 'not checked'}"


SCOPE_TITLE = "What this checker can and cannot judge"
EXPLANATION_TOGGLE = "Show where the model looked"
EXPLANATION_CAPTION = (
    "Warmer areas are where the model looked most when scoring this face. It shows what drove the score, not proof "
    "of where the video was edited."
)
