"""Tests of detector/video.py on synthetic videos written in tmp_path, and on the sample clips when present."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from conftest import SHARED
from video_factory import (
    MARKER_COLOUR,
    av1_encoder,
    draw_corner_marker,
    draw_numbered,
    frame_number,
    make_audio_only,
    make_video,
)

from detector.analysis import video
from detector.config import AnalysisConfig
from detector.errors import UnreadableVideoError, VideoTooLargeError
from detector.types import VideoInfo

SAMPLES = SHARED / "samples" / "videos"
AV1 = av1_encoder()
needs_av1 = pytest.mark.skipif(AV1 is None, reason="this PyAV build has no AV1 encoder")


def info_with(frame_count: int) -> VideoInfo:
    return VideoInfo(
        path="x.mp4",
        size_bytes=1,
        width=64,
        height=48,
        fps=25.0,
        frame_count=frame_count,
        duration_seconds=frame_count / 25.0,
    )


def draw_noisy(number: int, width: int, height: int) -> np.ndarray:
    """The numbered picture with noise below the number, so that every frame is many kilobytes."""
    image = draw_numbered(number, width, height)
    noise = np.random.default_rng(number).integers(0, 256, (height - height // 4, width, 3), dtype=np.uint8)
    image[height // 4 :] = noise
    return image


# Containers and codecs: what probe reports, and that sampled frames are the frames they claim to be.
@pytest.mark.parametrize(
    ("name", "codec", "codec_name", "container", "estimate"),
    [
        ("clip.mp4", "libx264", "h264", "mp4", False),
        ("clip.webm", "libvpx-vp9", "vp9", "webm", True),
        ("clip.mkv", "libx264", "h264", "matroska", True),
        ("clip.avi", "mpeg4", "mpeg4", "avi", False),
        ("mjpeg.avi", "mjpeg", "mjpeg", "avi", False),
        ("clip.mov", "libx264", "h264", "mov", False),
        pytest.param("av1.mp4", AV1, "av1", "mp4", False, marks=needs_av1),
        pytest.param("av1.mkv", AV1, "av1", "matroska", True, marks=needs_av1),
    ],
)
def test_probe_and_sample_each_format(tmp_path, name, codec, codec_name, container, estimate):
    path = make_video(tmp_path / name, frames=30, size=(160, 96), fps=25, codec=codec)
    config = AnalysisConfig(frames_to_sample=6)

    info = video.probe(path, config)

    assert (info.width, info.height, info.fps) == (160, 96, 25.0)
    assert (info.frame_count, info.frame_count_is_estimate) == (30, estimate)
    assert info.duration_seconds == pytest.approx(1.2, abs=0.05)
    assert (info.codec, info.container, info.rotation_degrees) == (codec_name, container, 0)
    assert info.size_bytes == path.stat().st_size
    frames = list(video.iter_frames(path, info, video.sample_indices(info, config), config))
    assert [frame.index for frame in frames] == [2, 7, 12, 17, 22, 27]
    assert [frame_number(frame.image) for frame in frames] == [2, 7, 12, 17, 22, 27]
    assert [frame.time_seconds for frame in frames] == pytest.approx([0.08, 0.28, 0.48, 0.68, 0.88, 1.08])
    assert all(frame.image.shape == (96, 160, 3) and frame.image.dtype == np.uint8 for frame in frames)


# Phone clips: stored landscape, a display matrix (or the old rotate tag) asks to turn them.
@pytest.mark.parametrize(
    ("name", "rotation", "rotate_tag"),
    [
        ("phone.mp4", 90, False),
        ("phone.mov", 270, False),
        ("upside_down.mp4", 180, False),
        ("tagged.mkv", 90, True),
        ("plain.mp4", 0, False),
    ],
)
def test_rotated_clip_comes_out_upright(tmp_path, name, rotation, rotate_tag):
    path = make_video(
        tmp_path / name, frames=5, size=(96, 160), rotation=rotation, draw=draw_corner_marker, rotate_tag=rotate_tag
    )
    with av.open(str(path)) as container:  # the stored pictures really are sideways for 90 and 270
        stored = container.streams.video[0]
        assert (stored.width, stored.height) == ((160, 96) if rotation in (90, 270) else (96, 160))

    info, frames = video.sample_frames(path, AnalysisConfig(frames_to_sample=2))

    assert (info.rotation_degrees, info.width, info.height) == (rotation, 96, 160)
    images = [frame.image for frame in frames]
    assert len(images) == 2
    for image in images:
        assert image.shape == (160, 96, 3)  # portrait
        assert image.flags["C_CONTIGUOUS"]
        assert np.abs(image[5:15, 5:15].astype(int) - MARKER_COLOUR).max() < 40  # marker top-left
        for corner in (image[-10:, -10:], image[:10, -10:], image[-10:, :10]):
            assert np.abs(corner.astype(int) - 128).max() < 40  # grey everywhere else


def test_one_frame_video(tmp_path):
    path = make_video(tmp_path / "single.mp4", frames=1)

    info, frames = video.sample_frames(path)

    assert (info.frame_count, info.frame_count_is_estimate) == (1, False)
    assert [(frame.index, frame_number(frame.image)) for frame in frames] == [(0, 0)]


def test_4k_frame_is_downscaled(tmp_path):
    path = make_video(tmp_path / "uhd.mp4", frames=2, size=(3840, 2160), options={"preset": "ultrafast"})

    info = video.probe(path)
    default = list(video.iter_frames(path, info, [1], AnalysisConfig()))
    small = list(video.iter_frames(path, info, [0, 1], AnalysisConfig(max_frame_side=640)))

    assert (info.width, info.height) == (3840, 2160)
    assert [frame.image.shape for frame in default] == [(1080, 1920, 3)]
    assert [frame.image.shape for frame in small] == [(360, 640, 3), (360, 640, 3)]
    assert [frame_number(frame.image) for frame in small] == [0, 1]


def _cut(source: Path, target: Path, keep: slice) -> Path:
    target.write_bytes(source.read_bytes()[keep])
    return target


def _half(folder: Path, faststart: bool, second: bool) -> Path:
    """Half of an mp4: with ``faststart`` its index (moov) comes first, else last."""
    source = make_video(folder / "whole.mp4", frames=3, draw=draw_noisy, faststart=faststart)
    middle = source.stat().st_size // 2
    return _cut(source, folder / "half.mp4", slice(middle, None) if second else slice(None, middle))


UNREADABLE = {
    "zero-byte": (lambda folder: _write(folder / "empty.mp4", b""), "This file is empty"),
    "text-renamed": (lambda folder: _write(folder / "notes.mp4", b"Milk, eggs.\n" * 40), "not a video"),
    "audio-only": (lambda folder: make_audio_only(folder / "song.mp4"), "no video track (it looks like audio"),
    "missing": (lambda folder: folder / "missing.mp4", "not found"),
    # Index at the end: the first half has none, the second half has no header.
    "first-half": (lambda folder: _half(folder, faststart=False, second=False), "not a video"),
    "second-half": (lambda folder: _half(folder, faststart=False, second=True), "not a video"),
    # Index first: the first half opens, but its first picture is cut (it is most of the file).
    "faststart-first-half": (lambda folder: _half(folder, faststart=True, second=False), "could not be decoded"),
    "faststart-second-half": (lambda folder: _half(folder, faststart=True, second=True), "not a video"),
}


@pytest.mark.parametrize(("make", "message"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_files(tmp_path, make, message):
    path = make(tmp_path)

    with pytest.raises(UnreadableVideoError) as caught:
        video.probe(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_too_large_file_names_size_and_limit(tmp_path):
    path = tmp_path / "huge.mp4"
    with path.open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)  # sparse: nothing is written

    with pytest.raises(VideoTooLargeError, match=r"This file is 3 MB; the checker accepts videos up to 1 MB"):
        video.probe(path, AnalysisConfig(max_file_megabytes=1))


def test_truncated_in_the_middle_yields_the_frames_before_the_cut(tmp_path, caplog):
    path = make_video(tmp_path / "whole.mp4", frames=20, draw=draw_noisy, faststart=True)
    cut = _cut(path, tmp_path / "cut.mp4", slice(None, path.stat().st_size * 6 // 10))
    info = video.probe(cut)
    assert info.frame_count == 20  # the header still promises every frame

    with caplog.at_level(logging.WARNING, logger="detector.video"):
        frames = list(video.iter_frames(cut, info, range(20), AnalysisConfig()))

    assert 5 <= len(frames) < 20
    assert [frame_number(frame.image) for frame in frames] == list(range(len(frames)))
    assert "stopped after" in caplog.text or "ended before" in caplog.text


@pytest.mark.parametrize("strategy", video.STRATEGIES)
def test_frame_count_that_lies_stops_at_the_real_end(tmp_path, caplog, strategy):
    path = make_video(tmp_path / "short.mp4", frames=12, gop=4)
    info = video.probe(path)
    liar = VideoInfo(**{**info.__dict__, "frame_count": 120})

    with caplog.at_level(logging.WARNING, logger="detector.video"):
        frames = list(video.iter_frames(path, liar, [0, 5, 11, 40, 80, 119], AnalysisConfig(), strategy=strategy))

    assert [frame.index for frame in frames] == [0, 5, 11]
    assert [frame_number(frame.image) for frame in frames] == [0, 5, 11]
    assert "ended before frame 40" in caplog.text


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("gop.mp4", "libx264"),
        ("gop.mov", "libx264"),
        ("gop.mkv", "libx264"),
        ("gop.webm", "libvpx-vp9"),
        ("gop.avi", "mpeg4"),
        ("gop.ts", "libx264"),  # no index: "seek" decodes forward, as seeking by bisection lands off target
        ("gop.h264", "libx264"),  # raw stream: no index, cannot seek at all
    ],
)
def test_seeking_and_decoding_forward_give_the_same_frames(tmp_path, name, codec):
    # Short keyframe intervals and B-frames (x264's default) make seeking land between samples.
    path = make_video(tmp_path / name, frames=120, gop=10, codec=codec)
    info = video.probe(path)
    indices = [3, 9, 10, 11, 37, 38, 64, 90, 91, 119]
    indexed = not name.endswith((".ts", ".h264"))
    with av.open(str(path)) as container:  # the keyframes the rule sees are those the decoder meets
        stream = container.streams.video[0]
        keyframes = video._keyframe_indices(container, stream, stream.start_time or 0, 25.0)
        decoded = [round(frame.time * 25) for frame in container.decode(stream) if frame.key_frame and indexed]
    assert keyframes == decoded
    assert len(keyframes) == (pytest.approx(12, abs=2) if indexed else 0)

    results = {
        strategy: list(video.iter_frames(path, info, indices, AnalysisConfig(), strategy=strategy))
        for strategy in video.STRATEGIES
    }

    for frames in results.values():
        assert [frame.index for frame in frames] == indices
        assert [frame_number(frame.image) for frame in frames] == indices
    for forward, sought in zip(results["forward"], results["seek"], strict=True):
        assert np.array_equal(forward.image, sought.image)


@pytest.mark.parametrize(
    ("stored", "duration", "expected"),
    [
        (300, 10.0, (300, False)),  # mp4: the stored count agrees with 10 s x 30 fps
        (301, 10.0, (301, False)),  # within rounding
        (0, 10.0, (300, True)),  # webm and mkv store none
        (900, 10.0, (300, True)),  # a count that lies: the duration wins
        (120, None, (120, False)),  # no duration: the stored count is all there is
    ],
)
def test_frame_count_trusts_the_container_only_when_it_agrees_with_the_duration(stored, duration, expected):
    stream = SimpleNamespace(frames=stored)
    assert video._frame_count(Path("unused.mp4"), stream, duration, 30.0) == expected


def test_frame_count_without_count_or_duration_counts_packets(tmp_path):
    path = make_video(tmp_path / "clip.mp4", frames=17)
    assert video._frame_count(path, SimpleNamespace(frames=0), None, 25.0) == (17, True)


@pytest.mark.parametrize(
    ("keyframes", "position", "target", "expected"),
    [
        ([], -1, 500, False),  # no index (MPEG-TS, raw streams): never seek, bisection lands off target
        ([0, 250], -1, 10, False),  # the keyframe before the target is where decoding starts anyway
        ([0, 250], 100, 260, True),  # skips 149 frames
        ([0, 250], 240, 260, False),  # skips 9 frames: not worth a seek
        ([0, 30, 60, 90], 40, 95, True),  # lands on 90, skips 49
        ([0, 30, 60, 90], 50, 65, False),  # lands on 60, skips 9
        ([0, 250], 100, 250, False),  # a keyframe at the target itself does not count (timestamp rounding)
        ([0, 250], 100, 251, True),
    ],
)
def test_auto_strategy_seeks_only_past_distant_keyframes(keyframes, position, target, expected):
    assert video.SEEK_MIN_SKIPPED_FRAMES == 16
    assert video._should_seek("auto", keyframes, position, target) is expected
    assert video._should_seek("forward", keyframes, position, target) is False
    assert video._should_seek("seek", keyframes, position, target) is bool(keyframes)


def test_iter_frames_rejects_bad_arguments(tmp_path):
    path = make_video(tmp_path / "clip.mp4", frames=3)
    info = video.probe(path)

    with pytest.raises(ValueError, match="strategy"):
        list(video.iter_frames(path, info, [0], AnalysisConfig(), strategy="fastest"))
    with pytest.raises(ValueError, match=">= 0"):
        list(video.iter_frames(path, info, [-1, 2], AnalysisConfig()))
    assert list(video.iter_frames(path, info, [], AnalysisConfig())) == []


@pytest.mark.parametrize(
    ("frame_count", "config", "expected"),
    [
        (300, AnalysisConfig(frames_to_sample=4), [37, 112, 187, 262]),
        (10, AnalysisConfig(frames_to_sample=5), [1, 3, 5, 7, 9]),
        (10, AnalysisConfig(frames_to_sample=32), list(range(10))),
        (1, AnalysisConfig(frames_to_sample=32), [0]),
        (100, AnalysisConfig(sampling="stride", frame_stride=10), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
        (1000, AnalysisConfig(sampling="stride", frame_stride=10, max_frames=4), [120, 370, 620, 870]),
        (25, AnalysisConfig(sampling="stride", frame_stride=7, max_frames=4), [0, 7, 14, 21]),
        (1, AnalysisConfig(sampling="stride", frame_stride=10), [0]),
    ],
)
def test_sample_indices(frame_count, config, expected):
    assert video.sample_indices(info_with(frame_count), config) == expected


def test_sample_indices_count_mode_default_is_32_distinct():
    indices = video.sample_indices(info_with(300), AnalysisConfig())
    assert len(indices) == len(set(indices)) == 32
    assert indices[:3] == [4, 14, 23] and indices[-1] == 295


def test_write_h264_is_readable_back(tmp_path):
    path = tmp_path / "annotated.mp4"
    frames = (draw_numbered(number, 101, 75) for number in range(12))  # odd size on purpose

    video.write_h264(frames, path, fps=24)

    info = video.probe(path)
    assert (info.codec, info.width, info.height, info.fps, info.frame_count) == ("h264", 102, 76, 24.0, 12)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: browsers start playing at once
    read_back = list(video.iter_frames(path, info, range(12), AnalysisConfig()))
    assert [frame_number(frame.image) for frame in read_back] == list(range(12))


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "no frames"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], "shape"),
        ([np.zeros((8, 8), np.uint8)], "RGB"),
        ([np.zeros((8, 8, 3), np.float32)], "uint8"),
    ],
)
def test_write_h264_rejects_bad_frames_and_leaves_no_file(tmp_path, frames, message):
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match=message):
        video.write_h264(frames, path, fps=25)
    assert not path.exists()


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no sample clips at {SAMPLES}")
def test_real_1080p_clip():
    path = SAMPLES / "abqwwspghj.mp4"

    info, frames = video.sample_frames(path, AnalysisConfig(frames_to_sample=32))
    frames = list(frames)

    assert (info.width, info.height, info.codec, info.rotation_degrees) == (1920, 1080, "h264", 0)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration_seconds == pytest.approx(10.0, abs=0.1)
    assert (info.frame_count, info.frame_count_is_estimate) == (300, False)
    assert [frame.index for frame in frames] == video.sample_indices(info, AnalysisConfig(frames_to_sample=32))
    assert all(frame.image.shape == (1080, 1920, 3) for frame in frames)
    assert len({frame.image[::64, ::64].tobytes() for frame in frames}) == 32  # 32 different pictures


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no sample clips at {SAMPLES}")
def test_real_portrait_clip_probe():
    info = video.probe(SAMPLES / "portrait_s13.mp4")

    assert (info.width, info.height) == (720, 1080)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 103


# Photos: read as videos of one frame, upright by their EXIF orientation.
def _photo(path: Path, image: np.ndarray, **save: object) -> Path:
    from PIL import Image

    Image.fromarray(image).save(path, **save)
    return path


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("photo.jpg", "mjpeg", "jpeg"),
        ("photo.jpeg", "mjpeg", "jpeg"),
        ("photo.png", "png", "png"),
        ("photo.webp", "webp", "webp"),
    ],
)
def test_a_photo_is_a_video_of_one_frame(tmp_path, name, codec, container):
    image = draw_numbered(0, 160, 96)
    path = _photo(tmp_path / name, image, quality=95) if "jp" in name else _photo(tmp_path / name, image, lossless=True)

    info = video.probe(path)
    frames = list(video.iter_frames(path, info, video.sample_indices(info, AnalysisConfig()), AnalysisConfig()))

    assert info.is_photo
    assert (info.width, info.height, info.frame_count, info.fps, info.duration_seconds) == (160, 96, 1, 1.0, 0.0)
    assert (info.codec, info.container, info.rotation_degrees, info.frame_count_is_estimate) == (
        codec,
        container,
        0,
        False,
    )
    assert video.sample_indices(info, AnalysisConfig(frames_to_sample=32)) == [0]
    assert [(frame.index, frame.time_seconds) for frame in frames] == [(0, 0.0)]
    if container == "jpeg":
        assert np.abs(frames[0].image.astype(int) - image).mean() < 3
    else:
        assert np.array_equal(frames[0].image, image)  # lossless


# EXIF orientation -> the clockwise rotation reported, and whether width and height swap.
@pytest.mark.parametrize(
    ("orientation", "rotation"), [(1, 0), (2, 0), (3, 180), (4, 180), (5, 270), (6, 90), (7, 90), (8, 270)]
)
def test_a_jpeg_photo_comes_out_upright_by_its_exif_orientation(tmp_path, orientation, rotation):
    from PIL import Image, ImageOps

    stored = draw_corner_marker(0, 120, 80)
    stored[-20:, -20:] = (0, 0, 255)  # a blue bottom-right corner as well: tells mirrored from rotated
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"oriented-{orientation}.jpg"
    picture.save(path, exif=exif, quality=95)

    info = video.probe(path)
    (frame,) = video.iter_frames(path, info, [0], AnalysisConfig())

    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert info.rotation_degrees == rotation
    assert (info.width, info.height) == ((80, 120) if orientation >= 5 else (120, 80))
    assert frame.image.shape == expected.shape == (info.height, info.width, 3)
    assert np.abs(frame.image.astype(int) - expected).mean() < 2
    if orientation == 6:  # Stored top-left comes to the top-right when turned a quarter clockwise.
        assert np.abs(frame.image[5, -5].astype(int) - MARKER_COLOUR).max() < 40
        assert np.abs(frame.image[-5, 5].astype(int) - (0, 0, 255)).max() < 40


def test_a_photo_is_recognised_by_its_content_not_its_name(tmp_path):
    path = _photo(tmp_path / "looks-like-a-video.mp4", draw_numbered(3, 64, 48), format="PNG")
    info = video.probe(path)
    assert (info.is_photo, info.container, info.frame_count) == (True, "png", 1)


def test_a_large_photo_is_decoded_at_bounded_size(tmp_path):
    path = _photo(tmp_path / "large.jpg", draw_numbered(5, 4000, 3000), quality=90)

    info = video.probe(path)
    (frame,) = video.iter_frames(path, info, [0], AnalysisConfig(max_frame_side=1000))

    assert (info.width, info.height) == (4000, 3000)
    assert frame.image.shape == (750, 1000, 3)
    assert frame_number(frame.image) == 5


def test_a_damaged_photo_is_refused_with_a_clear_error(tmp_path):
    whole = _photo(tmp_path / "whole.jpg", np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8))
    cut = _write(tmp_path / "cut.jpg", whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UnreadableVideoError, match="photo could not be decoded"):
        video.probe(cut)


def test_an_animated_image_is_left_to_ffmpeg_as_a_video(tmp_path):
    from PIL import Image

    pictures = [Image.fromarray(draw_numbered(number, 64, 48)) for number in range(3)]
    path = tmp_path / "animated.png"
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100)

    info = video.probe(path)

    assert not info.is_photo
    assert info.frame_count == 3


def test_write_h264_quality_setting(tmp_path):
    frames = [draw_noisy(number, 96, 64) for number in range(6)]
    video.write_h264(frames, tmp_path / "good.mp4", fps=25)
    video.write_h264(frames, tmp_path / "poor.mp4", fps=25, crf=40)
    assert (tmp_path / "poor.mp4").stat().st_size < (tmp_path / "good.mp4").stat().st_size / 2
    with pytest.raises(ValueError, match="crf"):
        video.write_h264(frames, tmp_path / "bad.mp4", fps=25, crf=60)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_skipping_frames_nothing_needs_gives_the_same_frames_from_fewer_decoded(
    tmp_path, monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    # x264 and x265 use B-frames by default: those that no frame refers to need not be decoded at all.
    path = make_video(tmp_path / "clip.mp4", frames=60, size=(160, 96), codec=codec)
    config = AnalysisConfig(frames_to_sample=7)
    info = video.probe(path, config)
    indices = video.sample_indices(info, config)
    decoded = []
    indexed_frames = video._indexed_frames

    def counting(*args, **kwargs):
        for item in indexed_frames(*args, **kwargs):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(video, "_indexed_frames", counting)
    runs = {}
    for skipping in (False, True):
        monkeypatch.setattr(video, "SKIP_UNNEEDED_FRAMES", skipping)
        decoded.clear()
        runs[skipping] = (
            [(frame.index, frame.image) for frame in video.iter_frames(path, info, indices, config)],
            len(decoded),
        )
    (plain, all_decoded), (skipped, fewer_decoded) = runs[False], runs[True]
    assert (
        [index for index, _ in skipped] == [index for index, _ in plain] == [frame_number(image) for _, image in plain]
    )
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(plain, skipped, strict=True))
    assert fewer_decoded < all_decoded
