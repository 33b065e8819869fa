"""The whole analysis of one video, in pipeline order.

video (probe, sample frames) -> faces (detect) -> cropping -> scoring -> tracking -> aggregation -> VideoResult.

Frames are streamed: each sampled frame is searched for faces, its crops are kept and the frame itself is
dropped. A background thread decodes up to ``DECODE_AHEAD_FRAMES`` frames ahead of the face search (``prefetched``),
so memory holds at most that many frames plus the one being searched, and the crops (32 frames x a few faces x
224 x 224 x 3 bytes).
Long steps report through ``progress(stage, fraction, message)``, never through a user interface.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from detector.analysis import aggregation, cropping, disagreement, quality, tracking, video
from detector.analysis.faces import FaceDetector
from detector.analysis.scoring import EnsembleScorer
from detector.config import AnalysisConfig
from detector.errors import UnreadableVideoError
from detector.models.model_card import Thresholds
from detector.types import (
    THRESHOLD_DECIMALS,
    DecisionThresholds,
    FaceBox,
    FaceScore,
    FrameRecord,
    SampledFrame,
    Track,
    VideoResult,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, float, str], None]

PHOTO_REASON = "A single photo: the verdict rests on one view of each face, where a video gives many."

# How many sampled frames the background thread may decode ahead of the face search. A few are enough to keep the
# detector from waiting on the decoder; each costs memory (a 1080p frame is 6 MB), so the bound stays small.
DECODE_AHEAD_FRAMES = 4
# How often a producer waiting for room checks whether its consumer has stopped: the longest that closing a
# prefetch waits on a thread that is not in the middle of producing an item.
_STOP_POLL_SECONDS = 0.05
# The name of the producer thread, so that a stack dump or a test can tell it from the others.
PREFETCH_THREAD_NAME = "prefetch"

Item = TypeVar("Item")


def _no_progress(stage: str, fraction: float, message: str) -> None:
    logger.debug("%s %.0f%% %s", stage, 100 * fraction, message)


@dataclass(frozen=True)
class _End:
    """The producer's last message to the consumer: ``error`` is what the items raised, None when they ran out."""

    error: BaseException | None = None


def prefetched(items: Iterable[Item], depth: int) -> Generator[Item, None, None]:
    """Yields ``items`` in their order while a background thread takes them from ``items``, up to ``depth`` ahead.

    Why: decoding a frame (PyAV) and looking for faces in the frame before it (TFLite) both release the GIL, so
    with the decoder in its own thread the two overlap instead of taking turns; see docs/DESIGN.md, "Decoding
    ahead".

    At most ``depth`` items have been taken from ``items`` and not yet handed to the caller, so memory holds at
    most ``depth`` of them besides the one the caller works on. An exception raised by ``items`` reaches the caller
    after the items before it, as the very same object (type, message and cause unchanged). The thread starts on
    the first ``next``. Closing the returned generator (best through ``contextlib.closing``, so that an exception
    in the caller closes it too) stops the thread, closes ``items`` in that thread and waits for it to end.

    Raises ``ValueError`` when ``depth`` is under 1.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    return _consume(iter(items), depth)


def _consume(source: Iterator[Item], depth: int) -> Generator[Item, None, None]:
    """The calling thread's side of ``prefetched``: hands on what the producer thread sends, in order."""
    messages: queue.SimpleQueue[Item | _End] = queue.SimpleQueue()
    # Room for ``depth`` items: the producer takes one before each item, the consumer gives it back on receipt.
    # The queue itself is unbounded; this semaphore is what bounds it.
    room = threading.Semaphore(depth)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(source, messages, room, stop), name=PREFETCH_THREAD_NAME, daemon=True
    )
    producer.start()
    try:
        # The producer always ends with an ``_End`` unless told to stop, which only this generator does, so
        # waiting without a timeout cannot hang.
        while not isinstance(message := messages.get(), _End):
            room.release()
            yield message
        if message.error is not None:
            raise message.error
    finally:
        stop.set()
        producer.join()


def _produce(
    source: Iterator[Item],
    messages: queue.SimpleQueue[Item | _End],
    room: threading.Semaphore,
    stop: threading.Event,
) -> None:
    """The producer thread: sends the items of ``source`` while there is room, then one ``_End``.

    ``source`` is closed here, in the thread that iterated it (a generator cannot be closed while another thread
    runs it), so that ``video.iter_frames`` releases its file as soon as the consumer stops.
    """
    end = _End()
    try:
        try:
            while _wait_for_room(room, stop):
                try:
                    item = next(source)
                except StopIteration:
                    break
                messages.put(item)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
    except BaseException as error:  # Any error is the consumer's to raise, as iterating in its thread would.
        end = _End(error)
    messages.put(end)


def _wait_for_room(room: threading.Semaphore, stop: threading.Event) -> bool:
    """Waits until there is room for one more item: True then, False once the consumer has stopped."""
    while not stop.is_set():
        if room.acquire(timeout=_STOP_POLL_SECONDS):
            return True
    return False


@dataclass
class _FrameFaces:
    """Faces found in one sampled frame: those big enough to score, with their crops, and a count of the rest."""

    index: int
    time_seconds: float
    boxes: list[FaceBox] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    too_small: int = 0
    measurements: list[quality.FaceQuality] = field(default_factory=list)


class _ScoresAsFound:
    """Scores crops in whole batches as the frames yield them, so that scoring overlaps the decoding running ahead
    (docs/DESIGN.md, "Decoding ahead"). The batches are the scorer's own, so every crop gets the score it would get
    in one pass at the end."""

    def __init__(self, scorer: EnsembleScorer) -> None:
        self.scorer = scorer
        self.batch = max(member.batch_size for member in scorer.scorers)
        self.pending: list[np.ndarray] = []
        self.scored: list[np.ndarray] = []
        self.seconds = 0.0

    def _score(self, crops: list[np.ndarray]) -> None:
        started = time.perf_counter()
        self.scored.append(self.scorer.score_each(np.stack(crops)))
        self.seconds += time.perf_counter() - started

    def add(self, crops: list[np.ndarray]) -> None:
        self.pending.extend(crops)
        while len(self.pending) >= self.batch:
            self._score(self.pending[: self.batch])
            del self.pending[: self.batch]

    def finish(self) -> np.ndarray:
        """``(N, M)``: every crop's probability from each of the M models, in the order the crops were added."""
        if self.pending:
            self._score(self.pending)
            self.pending = []
        if not self.scored:
            return np.zeros((0, len(self.scorer.names)))
        return np.concatenate(self.scored)


def _find_faces(
    path: Path,
    config: AnalysisConfig,
    detector: FaceDetector,
    crop_size: int,
    margin: float,
    center_shift: float,
    progress: Progress,
    scores: _ScoresAsFound | None = None,
) -> tuple[video.VideoInfo, list[_FrameFaces]]:
    info = video.probe(path, config)
    indices = video.sample_indices(info, config)
    found: list[_FrameFaces] = []
    frames = prefetched(video.iter_frames(path, info, indices, config), DECODE_AHEAD_FRAMES)
    # Closing on the way out, normal or not, stops the decoding thread at once rather than when collected.
    with contextlib.closing(frames):
        for position, frame in enumerate(frames):
            found.append(_faces_in_frame(frame, config, detector, crop_size, margin, center_shift))
            if scores is not None:
                scores.add(found[-1].crops)
            progress(
                "faces",
                (position + 1) / len(indices),
                f"Looked for faces in {position + 1} of {len(indices)} frames",
            )
    if not found:
        raise UnreadableVideoError(f"No frame of {path.name} could be decoded.")
    return info, found


def _faces_in_frame(
    frame: SampledFrame,
    config: AnalysisConfig,
    detector: FaceDetector,
    crop_size: int,
    margin: float,
    center_shift: float,
) -> _FrameFaces:
    """Detects the faces of one frame; crops and measures those big enough to judge, counts the others."""
    faces = _FrameFaces(frame.index, frame.time_seconds)
    for box in detector.detect(frame.image)[: config.max_faces_per_frame]:
        if box.size < config.min_face_size:
            faces.too_small += 1
            continue
        faces.boxes.append(box)
        faces.crops.append(cropping.crop_face(frame.image, box, margin, crop_size, center_shift))
        faces.measurements.append(quality.measure_face(frame.image, box, faces.crops[-1]))
    return faces


def _no_face_reason(found: list[_FrameFaces], config: AnalysisConfig) -> str:
    small = sum(frame.too_small for frame in found)
    if small:
        return (
            f"Faces were found only too small to judge (under {config.min_face_size} pixels) in {small} "
            "detections. Try a higher-resolution copy or a closer shot."
        )
    if len(found) == 1:
        return "No face was found in the picture."
    return f"No face was found in any of the {len(found)} sampled frames."


SETTINGS_CHOSEN = "set in the analysis settings"


def decision_thresholds(config: AnalysisConfig, chosen: Thresholds) -> DecisionThresholds:
    """The thresholds in force: the configuration's where it sets them, else ``chosen`` (a model card's, or those
    fitted for several models' average), to the ``THRESHOLD_DECIMALS`` a reader is shown them at. The analysis
    stores them on its result; outputs read them from there."""
    fake = round(chosen.fake if config.fake_threshold is None else config.fake_threshold, THRESHOLD_DECIMALS)
    low = round(chosen.uncertain_low if config.uncertain_low is None else config.uncertain_low, THRESHOLD_DECIMALS)
    from_settings = config.fake_threshold is not None or config.uncertain_low is not None
    return DecisionThresholds(fake, min(low, fake), SETTINGS_CHOSEN if from_settings else chosen.chosen_on)


def analyze(
    path: str | Path,
    scorer: EnsembleScorer,
    config: AnalysisConfig | None = None,
    detector: FaceDetector | None = None,
    progress: Progress | None = None,
) -> VideoResult:
    """Analyses one video file and returns everything found.

    Raises ``UnreadableVideoError`` / ``VideoTooLargeError`` for input that cannot be read. A readable video in
    which no usable face is found gives an UNCERTAIN verdict with the reason (not an exception), so that a result
    can still be shown and exported.
    """
    config = config or AnalysisConfig()
    progress = progress or _no_progress
    path = Path(path)
    timings: dict[str, float] = {}
    analysis_started = time.perf_counter()
    card = scorer.card
    started = time.perf_counter()
    scores = _ScoresAsFound(scorer)
    with ExitStack() as stack:
        if detector is None:
            detector = stack.enter_context(FaceDetector(config.detector_model, config.min_face_confidence))
        progress("reading", 0.0, "Reading the video")
        info, found = _find_faces(
            path,
            config,
            detector,
            card.preprocessing.input_size,
            card.preprocessing.face_margin,
            card.preprocessing.face_center_shift,
            progress,
            scores,
        )
        progress("scoring", 0.0, "Scoring faces")
        # One column per model; the ensemble's probability is their mean (``EnsembleScorer.score``).
        each_model = scores.finish()
    # Scoring mostly happened while frames were still being decoded: "score" is its share of the time.
    timings["read_find_and_score"] = time.perf_counter() - started
    timings["score"] = scores.seconds
    probabilities = each_model.mean(axis=1)
    progress("scoring", 1.0, f"Scored {len(each_model)} faces")

    track_ids = tracking.assign_tracks([frame.boxes for frame in found], config.track_iou_threshold)
    kept = set(tracking.major_tracks(track_ids, config.min_track_share))
    notes: list[str] = []
    dropped = {track for ids in track_ids for track in ids} - kept
    if dropped:
        notes.append(
            f"{len(dropped)} brief face detection(s) seen in too few frames were left out as likely false detections."
        )
    if config.detector_model != card.preprocessing.face_detector:
        notes.append(
            f"Faces were found with the {config.detector_model} detector, but the model was trained on crops framed "
            f"by the {card.preprocessing.face_detector} detector: crops may be framed slightly differently."
        )
    small = sum(frame.too_small for frame in found)
    if small:
        notes.append(f"{small} face detection(s) were too small to judge (under {config.min_face_size} px).")

    frames: list[FrameRecord] = []
    crops: dict[tuple[int, int], np.ndarray] = {}
    per_track: dict[int, list[FaceScore]] = {}
    position = 0
    for frame, ids in zip(found, track_ids, strict=True):
        scores = []
        for box, crop, track_id in zip(frame.boxes, frame.crops, ids, strict=True):
            probability = float(probabilities[position])
            per_model = tuple(float(value) for value in each_model[position]) if each_model.shape[1] > 1 else ()
            position += 1
            if track_id not in kept:
                continue
            score = FaceScore(frame.index, frame.time_seconds, box, track_id, probability, per_model)
            scores.append(score)
            per_track.setdefault(track_id, []).append(score)
            crops[(frame.index, track_id)] = crop
        frames.append(FrameRecord(frame.index, frame.time_seconds, tuple(scores)))

    # A video's thresholds: fitted on clips for this aggregation where the card has them, else the crops'.
    thresholds = decision_thresholds(config, scorer.thresholds_for_videos(config.aggregation))
    fake_threshold, uncertain_low = thresholds.fake, thresholds.uncertain_low
    # A video with fewer frames than the abstention rule asks for (a photo has one) is judged on all of them.
    min_frames = min(config.min_frames_with_face, info.frame_count)
    tracks = []
    for track_id in sorted(per_track):
        scores = per_track[track_id]
        verdict = aggregation.decide(
            [score.fake_probability for score in scores],
            config.aggregation,
            fake_threshold,
            uncertain_low,
            min_frames,
        )
        tracks.append(Track(track_id, tuple(scores), verdict))
    # Input quality, measured per scored face: a person whose faces are mostly too poor to judge is inconclusive.
    measured = {
        (frame.index, track_id): measurement
        for frame, ids in zip(found, track_ids, strict=True)
        for measurement, track_id in zip(frame.measurements, ids, strict=True)
        if track_id in kept
    }
    member_thresholds = [
        (chosen.fake, chosen.uncertain_low)
        for chosen in (
            decision_thresholds(config, member.card.thresholds_for_videos(config.aggregation))
            for member in scorer.scorers
        )
    ]
    opinions = disagreement.model_opinions(tracks, scorer.names, config.aggregation, member_thresholds, min_frames)
    issues = quality.assess(measured, info, len(found))
    tracks = [quality.review_track(track, issues) for track in tracks]
    verdict = aggregation.decide_video(
        tracks,
        config.aggregation,
        fake_threshold,
        uncertain_low,
        no_track_reason=_no_face_reason(found, config),
    )
    if info.is_photo and verdict.fake_probability is not None:
        verdict = dataclasses.replace(verdict, reason=f"{PHOTO_REASON} {verdict.reason}")
    notes += quality.notes(issues, verdict, len(tracks))
    timings["total"] = time.perf_counter() - analysis_started
    return VideoResult(
        info=info,
        model_names=scorer.names,
        frames=tuple(frames),
        tracks=tuple(tracks),
        verdict=verdict,
        thresholds=thresholds,
        timings_seconds=timings,
        notes=tuple(notes),
        crops=crops,
        quality_issues=tuple(issues),
        opinions=opinions,
    )
