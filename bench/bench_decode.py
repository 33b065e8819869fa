"""How long probing and sampling take, per clip, with each frame-access strategy of ``detector.video``.

Usage: ``python bench/bench_decode.py [--threads SLICE|FRAME|AUTO] [more clips ...]``. Reads every clip in
``../shared/samples/videos`` (next to the repository) and any given on the command line. For each: probe time,
the time to decode 32 sampled frames decoding forward, seeking before every sample, and with the "auto" rule, and
what one seek costs expressed in frames of decoding (the number behind ``SEEK_MIN_SKIPPED_FRAMES``). Wall-clock
times, best of ``--repeat`` runs; other work on the machine inflates them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from detector.analysis import video  # noqa: E402 (needs the repository on the path first)
from detector.config import AnalysisConfig  # noqa: E402

SAMPLES = REPOSITORY.parent / "shared" / "samples" / "videos"
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi"}


def best_time(function, repeat: int) -> tuple[float, object]:
    """The smallest wall-clock time of ``repeat`` calls, in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def seek_cost_frames(path: Path, repeat: int) -> tuple[float, float]:
    """Per-frame decode time (ms) and one seek's extra cost in frames of decoding.

    Decodes the first 60 frames forward for the per-frame time; then seeks to the last keyframe in the index
    and decodes one frame, ``repeat`` x 5 times. The extra cost is (seek-and-decode-one - one frame) / frame.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keyframes = [entry.timestamp for entry in stream.index_entries if entry.is_keyframe]
        start = time.perf_counter()
        decoded = 0
        for _ in container.decode(stream):
            decoded += 1
            if decoded == 60:
                break
        per_frame = (time.perf_counter() - start) / decoded
        if len(keyframes) < 2:
            return per_frame * 1000, float("nan")
        seeks = repeat * 5
        start = time.perf_counter()
        for _ in range(seeks):
            container.seek(keyframes[-1], stream=stream, backward=True)
            next(container.decode(stream))
        per_seek = (time.perf_counter() - start) / seeks
    return per_frame * 1000, (per_seek - per_frame) / per_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path, help="more clips to measure")
    parser.add_argument("--frames", type=int, default=32, help="frames to sample (count mode)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best one counts")
    parser.add_argument(
        "--threads",
        choices=["SLICE", "FRAME", "AUTO"],
        default=video.DECODER_THREADS,
        help=f"the decoder's threading while sampling (default: the checker's, {video.DECODER_THREADS}); SLICE "
        "alone is PyAV's default",
    )
    arguments = parser.parse_args()
    video.DECODER_THREADS = arguments.threads

    clips = sorted(p for p in SAMPLES.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES) if SAMPLES.is_dir() else []
    clips += arguments.clips
    if not clips:
        sys.exit(f"no clips: {SAMPLES} is missing and none were given")
    config = AnalysisConfig(frames_to_sample=arguments.frames)

    header = (
        f"{'clip':<22} {'size':>9} {'frames':>6} {'keyfr':>5} {'probe s':>7} {'forward s':>9} {'seek s':>7} "
        f"{'auto s':>7} {'ms/frame':>8} {'seek=frames':>11}"
    )
    print(f"{arguments.frames} frames per clip, best of {arguments.repeat}, decoder threads {arguments.threads}")
    print(header)
    print("-" * len(header))
    for clip in clips:
        probe_seconds, info = best_time(lambda clip=clip: video.probe(clip, config), arguments.repeat)
        indices = video.sample_indices(info, config)
        times = {}
        for strategy in video.STRATEGIES:

            def decode(clip=clip, info=info, indices=indices, strategy=strategy) -> list:
                return list(video.iter_frames(clip, info, indices, config, strategy=strategy))

            seconds, frames = best_time(decode, arguments.repeat)
            if len(frames) != len(indices):
                print(f"  {clip.name}: {strategy} gave {len(frames)} of {len(indices)} frames")
            times[strategy] = seconds
        with av.open(str(clip)) as container:
            keyframe_count = sum(entry.is_keyframe for entry in container.streams.video[0].index_entries)
        frame_ms, seek_frames = seek_cost_frames(clip, arguments.repeat)
        print(
            f"{clip.name[:22]:<22} {info.width:>4}x{info.height:<4} {info.frame_count:>6} {keyframe_count:>5} "
            f"{probe_seconds:>7.3f} {times['forward']:>9.2f} {times['seek']:>7.2f} {times['auto']:>7.2f} "
            f"{frame_ms:>8.1f} {seek_frames:>11.1f}"
        )


if __name__ == "__main__":
    main()
