"""The whole analysis on synthetic videos (tiny untrained model: plumbing) and bad input of every kind."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Generator, Iterator

import numpy as np
import pytest
from conftest import SHARED, requires_shared, two_models_folder
from video_factory import make_audio_only, make_video, pasted_faces

from detector.analysis import cropping, pipeline, quality, video
from detector.analysis.scoring import load_scorer
from detector.config import AnalysisConfig
from detector.errors import UnreadableVideoError, VideoTooLargeError
from detector.training import datasets
from detector.types import FaceBox, VerdictLabel

FACES = SHARED / "data" / "dfdc-faces" / "faces"


@pytest.fixture(scope="module")
def scorer(tiny_models_folder):
    return load_scorer("tiny", tiny_models_folder)


def face(name: str, side: int = 160) -> np.ndarray:
    return datasets.read_image(FACES / name, side)


def flat(frame_number: int, width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), (30 + frame_number, 90, 160), np.uint8)


@requires_shared
def test_one_person_gets_one_track_scored_in_every_frame(tmp_path, scorer):
    path = make_video(tmp_path / "one.mp4", frames=30, size=(480, 320), draw=pasted_faces([face("abplofmgwg.jpg")]))
    stages = []
    config = AnalysisConfig(frames_to_sample=12)
    result = pipeline.analyze(path, scorer, config, progress=lambda stage, fraction, message: stages.append(stage))
    assert len(result.frames) == 12
    assert [track.track_id for track in result.tracks] == [0]
    assert len(result.tracks[0].scores) == 12
    assert result.verdict.fake_probability is not None
    assert result.verdict.label in (VerdictLabel.FAKE, VerdictLabel.REAL, VerdictLabel.UNCERTAIN)
    assert set(stages) >= {"reading", "faces", "scoring"}
    crop = result.crops[(result.frames[0].index, 0)]
    assert crop.shape == (224, 224, 3)
    # The face was pasted at 160 px: the crop (margin 1.0) holds the face, not the grey background.
    assert abs(float(crop.mean()) - 90) > 5


@requires_shared
def test_two_people_get_a_track_and_a_verdict_each(tmp_path, scorer):
    draw = pasted_faces([face("abplofmgwg.jpg", 140), face("aabqcugcpc.jpg", 140)], step=1)
    path = make_video(tmp_path / "two.mp4", frames=24, size=(560, 280), draw=draw)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=8))
    assert [track.track_id for track in result.tracks] == [0, 1]
    assert all(len(track.scores) == 8 for track in result.tracks)
    lefts = [np.mean([score.box.x for score in track.scores]) for track in result.tracks]
    assert lefts[0] != pytest.approx(lefts[1], abs=50)
    assert all(track.verdict.fake_probability is not None for track in result.tracks)


def test_no_face_gives_an_abstention_with_the_reason(tmp_path, scorer):
    path = make_video(tmp_path / "flat.mp4", frames=20, size=(320, 240), draw=flat)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=8))
    assert result.verdict.label is VerdictLabel.UNCERTAIN
    assert result.verdict.fake_probability is None
    assert result.verdict.reason == "No face was found in any of the 8 sampled frames."
    assert result.tracks == ()
    assert all(frame.faces == () for frame in result.frames)


@requires_shared
def test_faces_too_small_are_not_scored_and_the_reason_says_so(tmp_path, scorer):
    path = make_video(
        tmp_path / "small.mp4", frames=12, size=(640, 360), draw=pasted_faces([face("abplofmgwg.jpg", 40)])
    )
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=6, min_face_size=64))
    assert result.verdict.fake_probability is None
    assert "too small" in result.verdict.reason


@requires_shared
def test_a_one_frame_video_is_read_and_its_face_scored(tmp_path, scorer):
    path = make_video(tmp_path / "single.mp4", frames=1, size=(320, 240), draw=pasted_faces([face("abplofmgwg.jpg")]))
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=32))
    assert len(result.frames) == 1
    assert len(result.tracks) == 1 and len(result.tracks[0].scores) == 1
    # A video of fewer frames than the abstention rule's 4 is judged on all it has.
    assert result.verdict.fake_probability is not None and result.verdict.frames_used == 1


@requires_shared
def test_rotated_phone_clip_is_judged_upright(tmp_path, scorer):
    draw = pasted_faces([face("abplofmgwg.jpg", 150)])
    path = make_video(tmp_path / "phone.mp4", frames=12, size=(240, 420), rotation=90, draw=draw)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=6))
    assert (result.info.width, result.info.height, result.info.rotation_degrees) == (240, 420, 90)
    assert len(result.tracks) == 1 and len(result.tracks[0].scores) == 6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: ((folder / "empty.mp4").write_bytes(b"") and None) or folder / "empty.mp4", "empty"),
        (lambda folder: (folder / "notes.mp4").write_text("hello") and folder / "notes.mp4", "video"),
        (lambda folder: make_audio_only(folder / "sound.mp4"), "audio"),
    ],
)
def test_unreadable_input_raises_a_clear_error(tmp_path, scorer, make, message):
    path = make(tmp_path)
    with pytest.raises(UnreadableVideoError, match=message):
        pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=4))


def test_truncated_video_is_refused_or_judged_on_what_remains(tmp_path, scorer):
    whole = make_video(tmp_path / "whole.mp4", frames=40, size=(320, 240), draw=flat, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        result = pipeline.analyze(cut, scorer, AnalysisConfig(frames_to_sample=8))
    except UnreadableVideoError as error:
        assert str(error)
    else:
        assert 1 <= len(result.frames) < 8


def test_files_over_the_size_limit_are_refused_before_decoding(tmp_path, scorer):
    path = make_video(tmp_path / "big.mp4", frames=10, size=(320, 240), draw=flat)
    with open(path, "ab") as handle:
        handle.write(b"\0" * (2 * 1024 * 1024))
    with pytest.raises(VideoTooLargeError, match="1 MB"):
        pipeline.analyze(path, scorer, AnalysisConfig(max_file_megabytes=1))


def test_a_4k_frame_is_decoded_at_bounded_size(tmp_path, scorer):
    path = make_video(tmp_path / "uhd.mp4", frames=3, size=(3840, 2160), draw=flat)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=3, max_frame_side=1280))
    assert (result.info.width, result.info.height) == (3840, 2160)
    assert len(result.frames) == 3


def test_a_ten_minute_video_is_sampled_across_its_whole_length(tmp_path, scorer):
    path = make_video(tmp_path / "long.mp4", frames=1200, fps=2.0, size=(160, 96), draw=flat, gop=50)
    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=32))
    assert result.info.duration_seconds == pytest.approx(600, abs=1)
    assert len(result.frames) == 32
    times = [frame.time_seconds for frame in result.frames]
    assert times[0] < 20 and times[-1] > 580
    assert times == sorted(set(times))


def photo_with_face(path, orientation: int = 1, side: int = 160):
    """A photo of a real face crop on grey; stored turned so that EXIF ``orientation`` (1, 6 or 8) shows it upright."""
    from PIL import Image

    image = np.full((360, 480, 3), 90, np.uint8)
    image[100 : 100 + side, 160 : 160 + side] = face("abplofmgwg.jpg", side)
    stored = np.ascontiguousarray(np.rot90(image, k={1: 0, 6: 1, 8: -1}[orientation]))
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    picture.save(path, exif=exif, quality=92)
    return path


@requires_shared
@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_a_photo_with_a_face_gets_a_verdict_with_a_probability(tmp_path, scorer, orientation):
    path = photo_with_face(tmp_path / "portrait.jpg", orientation)

    result = pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=32))

    assert result.info.is_photo and (result.info.width, result.info.height) == (480, 360)
    assert [frame.index for frame in result.frames] == [0]
    assert [track.track_id for track in result.tracks] == [0]
    verdict = result.verdict
    assert verdict.fake_probability is not None and 0.0 <= verdict.fake_probability <= 1.0
    assert verdict.frames_used == 1
    assert verdict.reason.startswith(pipeline.PHOTO_REASON)
    # A photo has no duration to be too short.
    assert "very_short" not in [issue.code for issue in result.quality_issues]
    # Upright: the face was found where it was pasted, whichever way the photo was stored.
    box = result.frames[0].faces[0].box
    assert 160 <= box.center[0] <= 320 and 100 <= box.center[1] <= 260


def test_a_photo_without_a_face_says_so(tmp_path, scorer):
    from PIL import Image

    path = tmp_path / "wall.png"
    Image.fromarray(flat(0, 320, 240)).save(path)
    result = pipeline.analyze(path, scorer)
    assert result.verdict.label is VerdictLabel.UNCERTAIN and result.verdict.fake_probability is None
    assert result.verdict.reason == "No face was found in the picture."


@requires_shared
def test_an_ensemble_keeps_each_models_scores_and_verdicts(tmp_path, tiny_models_folder):
    from detector.outputs import export

    folder = two_models_folder(tmp_path / "models", tiny_models_folder)
    ensemble = load_scorer(["tiny", "other"], folder)
    path = make_video(tmp_path / "one.mp4", frames=20, size=(480, 320), draw=pasted_faces([face("abplofmgwg.jpg")]))
    result = pipeline.analyze(path, ensemble, AnalysisConfig(frames_to_sample=6))
    scores = result.face_scores
    assert scores and all(len(score.model_probabilities) == 2 for score in scores)
    for score in scores:
        assert score.fake_probability == pytest.approx(np.mean(score.model_probabilities))
    assert [(opinion.model, opinion.track_id) for opinion in result.opinions] == [("tiny", 0), ("other", 0)]
    data = export.result_to_dict(result)
    assert [opinion["model"] for opinion in data["model_opinions"]] == ["tiny", "other"]
    assert len(data["frames"][0]["faces"][0]["model_probabilities"]) == 2

    alone = pipeline.analyze(path, load_scorer("tiny", folder), AnalysisConfig(frames_to_sample=6))
    assert alone.opinions == () and all(score.model_probabilities == () for score in alone.face_scores)
    assert "model_probabilities" not in export.result_to_dict(alone)["frames"][0]["faces"][0]


def prefetch_threads() -> list[threading.Thread]:
    """The prefetch threads still running (``threading.enumerate`` lists only live threads)."""
    return [thread for thread in threading.enumerate() if thread.name == pipeline.PREFETCH_THREAD_NAME]


@pytest.mark.parametrize(("count", "depth"), [(0, 1), (1, 1), (1, 4), (10, 1), (10, 3), (10, 10), (10, 40)])
def test_prefetched_yields_the_same_items_in_order(count, depth):
    items = [f"frame {number}" for number in range(count)]
    received = list(pipeline.prefetched(iter(items), depth))
    assert received == items
    assert all(got is sent for got, sent in zip(received, items, strict=True))
    assert prefetch_threads() == []


@pytest.mark.parametrize("depth", [0, -1])
def test_prefetched_refuses_a_depth_under_one(depth):
    with pytest.raises(ValueError, match="depth must be at least 1"):
        pipeline.prefetched([1, 2], depth)


@pytest.mark.parametrize(
    "error",
    [
        UnreadableVideoError("The video could not be decoded (the file may be damaged or incomplete)."),
        VideoTooLargeError("This file is 900 MB; the checker accepts videos up to 500 MB."),
        KeyError("codec"),
    ],
)
@pytest.mark.parametrize("items_before", [0, 3])
def test_an_error_in_the_producer_reaches_the_consumer_after_the_items_before_it(error, items_before):
    def failing() -> Iterator[int]:
        yield from range(items_before)
        raise error

    received = []
    with pytest.raises(type(error)) as raised:
        for item in pipeline.prefetched(failing(), 2):
            received.append(item)
    assert raised.value is error and str(raised.value) == str(error)
    assert received == list(range(items_before))
    assert prefetch_threads() == []


def closed_early(items: Generator[int, None, None]) -> None:
    """Closes the prefetch after two items by ``close``."""
    next(items)
    next(items)
    items.close()


def raised_early(items: Generator[int, None, None]) -> None:
    """Leaves a ``contextlib.closing`` block by an exception after two items, as ``_find_faces`` would."""
    with pytest.raises(RuntimeError, match="consumer failed"), contextlib.closing(items):
        for item in items:
            if item == 1:
                raise RuntimeError("consumer failed")


@pytest.mark.parametrize("stop_early", [closed_early, raised_early])
def test_stopping_the_consumer_early_stops_and_joins_the_thread_and_closes_the_items(stop_early):
    source_closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            source_closed.set()

    # The test keeps the source alive, as a caller may: only an explicit close in the thread closes it then.
    source = endless()
    items = pipeline.prefetched(source, 2)
    assert next(items) == 0
    (producer,) = prefetch_threads()
    stop_early(items)
    # Closing joins the thread: it is over by the time close returns, with nothing to wait for.
    assert not producer.is_alive()
    assert prefetch_threads() == []
    assert source_closed.is_set()
    assert next(source, None) is None


def test_a_prefetch_never_started_starts_no_thread():
    items = pipeline.prefetched(itertools.count(), 2)
    items.close()
    assert prefetch_threads() == []


@pytest.mark.parametrize("depth", [1, 3])
def test_prefetched_runs_at_most_depth_items_ahead(depth, monkeypatch):
    requested = 0  # how many items the consumer has asked for, counted before it asks
    ahead: list[int] = []  # for each item taken from the source: items taken so far minus items asked for
    holding = threading.Event()  # the consumer has received the first item and keeps it
    stalled = threading.Event()  # the producer found no room while the consumer held it

    def noting_when_stalled(room: threading.Semaphore, stop: threading.Event) -> bool:
        # Waits in short steps rather than at once, so as to notice when the consumer starts holding.
        while not stop.is_set():
            if room.acquire(timeout=0.01):
                return True
            if holding.is_set():
                stalled.set()
        return False

    def recording() -> Iterator[int]:
        for number in range(12):
            ahead.append(number + 1 - requested)
            yield number

    monkeypatch.setattr(pipeline, "_wait_for_room", noting_when_stalled)
    items = pipeline.prefetched(recording(), depth)
    received = []
    while True:
        requested += 1
        item = next(items, None)
        if item is None:
            break
        received.append(item)
        if item == 0:
            # The consumer holds the first item until the producer finds no room: it has then taken all that the
            # bound lets it take ahead of one item asked for, and a looser bound would have let it take more.
            holding.set()
            assert stalled.wait(timeout=30)
    assert received == list(range(12))
    assert max(ahead) == depth


class RecordingDetector:
    """Stands in for ``FaceDetector``: one fixed face per frame; notes each frame it saw and in which thread."""

    box = FaceBox(20, 10, 60, 60, 0.9)

    def __init__(self, fail_at_frame: int | None = None) -> None:
        self.images: list[np.ndarray] = []
        self.threads: list[int] = []
        self.fail_at_frame = fail_at_frame

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        self.images.append(image)
        self.threads.append(threading.get_ident())
        if len(self.images) == self.fail_at_frame:
            raise RuntimeError("detector failed")
        return [self.box]


def test_finding_faces_ahead_of_decoding_gives_what_decoding_in_turn_gives(tmp_path):
    path = make_video(tmp_path / "numbered.mp4", frames=30, size=(160, 96))
    config = AnalysisConfig(frames_to_sample=8, min_face_size=10)
    detector = RecordingDetector()
    calls = []

    def progress(stage: str, fraction: float, message: str) -> None:
        calls.append((threading.get_ident(), stage, fraction, message))

    info, found = pipeline._find_faces(path, config, detector, 64, 0.5, 0.1, progress)

    expected = list(video.iter_frames(path, info, video.sample_indices(info, config), config))
    assert [(faces.index, faces.time_seconds) for faces in found] == [
        (frame.index, frame.time_seconds) for frame in expected
    ]
    assert all(np.array_equal(seen, frame.image) for seen, frame in zip(detector.images, expected, strict=True))
    for faces, frame in zip(found, expected, strict=True):
        crop = cropping.crop_face(frame.image, detector.box, 0.5, 64, 0.1)
        assert faces.boxes == [detector.box]
        assert len(faces.crops) == 1 and np.array_equal(faces.crops[0], crop)
        assert faces.measurements == [quality.measure_face(frame.image, detector.box, crop)]
    caller = threading.get_ident()
    assert calls == [
        (caller, "faces", (number + 1) / 8, f"Looked for faces in {number + 1} of 8 frames") for number in range(8)
    ]
    assert set(detector.threads) == {caller}
    assert prefetch_threads() == []


def test_an_error_while_looking_for_faces_stops_the_decoding_thread(tmp_path):
    path = make_video(tmp_path / "numbered.mp4", frames=30, size=(160, 96))
    detector = RecordingDetector(fail_at_frame=2)
    with pytest.raises(RuntimeError, match="detector failed") as raised:
        pipeline._find_faces(path, AnalysisConfig(frames_to_sample=16), detector, 64, 0.5, 0.0, pipeline._no_progress)
    # The decoder was 4 frames ahead and waiting for room when the detector failed: it was stopped and joined,
    # although the error kept (as a page keeps it to show) still holds the frames it was raised through.
    assert raised.value.__traceback__ is not None
    assert prefetch_threads() == []


def test_a_decoding_error_in_the_thread_reaches_the_caller_unchanged(tmp_path, scorer, monkeypatch):
    path = make_video(tmp_path / "numbered.mp4", frames=10, size=(160, 96))
    error = UnreadableVideoError("The video could not be decoded (the file may be damaged or incomplete).")

    def undecodable(*arguments: object, **keywords: object) -> Iterator[object]:
        raise error
        yield

    monkeypatch.setattr(video, "iter_frames", undecodable)
    with pytest.raises(UnreadableVideoError) as raised:
        pipeline.analyze(path, scorer, AnalysisConfig(frames_to_sample=4))
    assert raised.value is error
    assert prefetch_threads() == []


def test_scoring_as_frames_are_found_gives_the_scores_of_one_pass(tiny_models_folder) -> None:
    from detector.analysis.scoring import load_scorer

    scorer = load_scorer("tiny", tiny_models_folder)
    crops = np.random.default_rng(3).integers(0, 256, (39, 224, 224, 3), dtype=np.uint8)
    scores = pipeline._ScoresAsFound(scorer)
    start = 0
    for size in (3, 20, 0, 1, 15):  # frames with a few faces, many, none
        scores.add(list(crops[start : start + size]))
        start += size
    assert np.array_equal(scores.finish(), scorer.score_each(crops))
    assert scores.seconds > 0
    assert pipeline._ScoresAsFound(scorer).finish().shape == (0, 1)


def test_thresholds_are_decided_at_the_decimals_a_reader_is_shown():
    from detector.models.model_card import Thresholds
    from detector.types import threshold_text

    card = Thresholds(fake=0.697089770101956, uncertain_low=0.17688534852107635, chosen_on="validation")
    chosen = pipeline.decision_thresholds(AnalysisConfig(), card)
    assert (chosen.fake, chosen.uncertain_low, chosen.chosen_on) == (0.6971, 0.1769, "validation")
    assert float(threshold_text(chosen.fake)) == chosen.fake
    settings = pipeline.decision_thresholds(AnalysisConfig(fake_threshold=0.15), card)
    assert (settings.fake, settings.uncertain_low, settings.chosen_on) == (0.15, 0.15, pipeline.SETTINGS_CHOSEN)
