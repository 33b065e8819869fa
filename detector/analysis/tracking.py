"""Links faces across sampled frames into per-person tracks, and tells spurious detections from people.

Frames are sampled sparsely (often 0.3 s or more apart), so a face may move by a good part of its own size
between two samples, or be missed in some. Each face is matched greedily to the track whose last box it overlaps
most (IoU at least ``iou_threshold``); failing any such overlap, to the track whose last box centre is nearest,
within ``max_center_distance`` face sizes and with a similar size. A small greedy matcher is enough for a few faces
per frame; a tracker with motion models (SORT, ByteTrack) needs dense frames to pay off.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from detector.types import FaceBox


def center_distance(first: FaceBox, second: FaceBox) -> float:
    """Distance between box centres in units of the boxes' mean size."""
    (x1, y1), (x2, y2) = first.center, second.center
    return math.hypot(x1 - x2, y1 - y2) / ((first.size + second.size) / 2.0)


def assign_tracks(
    frames_faces: Sequence[Sequence[FaceBox]],
    iou_threshold: float,
    max_center_distance: float = 1.0,
    max_size_ratio: float = 1.5,
) -> list[list[int]]:
    """A track id for every face: ``result[f][i]`` is the track of ``frames_faces[f][i]``.

    Tracks are numbered 0, 1, ... in order of first appearance (within a frame, in the frame's face order). A
    track is compared with its last box, however many frames ago it was seen, so a person missed in a few frames
    keeps their id. Within one frame, two faces never share a track. Matching is greedy: first all pairs that
    overlap by at least ``iou_threshold``, highest IoU first; then the pairs whose centres are at most
    ``max_center_distance`` mean face sizes apart and whose sizes differ by at most ``max_size_ratio``,
    nearest first. Faces left over start new tracks.
    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if max_center_distance < 0:
        raise ValueError(f"max_center_distance must be >= 0, got {max_center_distance}")
    if max_size_ratio < 1.0:
        raise ValueError(f"max_size_ratio must be >= 1, got {max_size_ratio}")
    last_boxes: list[FaceBox] = []
    assignments: list[list[int]] = []
    for faces in frames_faces:
        # Candidate pairs sort by (kind, cost, track, face): overlaps (kind 0) before nearby centres (kind 1).
        candidates: list[tuple[int, float, int, int]] = []
        for track, last in enumerate(last_boxes):
            for index, face in enumerate(faces):
                iou = last.iou(face)
                if iou > 0.0 and iou >= iou_threshold:
                    candidates.append((0, -iou, track, index))
                    continue
                ratio = max(last.size, face.size) / min(last.size, face.size)
                distance = center_distance(last, face)
                if distance <= max_center_distance and ratio <= max_size_ratio:
                    candidates.append((1, distance, track, index))
        candidates.sort()
        frame_tracks: list[int | None] = [None] * len(faces)
        used_tracks: set[int] = set()
        for _, _, track, index in candidates:
            if track in used_tracks or frame_tracks[index] is not None:
                continue
            frame_tracks[index] = track
            used_tracks.add(track)
        for index, face in enumerate(faces):
            track = frame_tracks[index]
            if track is None:
                track = len(last_boxes)
                last_boxes.append(face)
                frame_tracks[index] = track
            else:
                last_boxes[track] = face
        assignments.append([track for track in frame_tracks if track is not None])
    return assignments


def track_frame_counts(track_ids: Sequence[Sequence[int]]) -> dict[int, int]:
    """How many frames each track appears in."""
    return dict(Counter(track for frame in track_ids for track in set(frame)))


def major_tracks(track_ids: Sequence[Sequence[int]], min_share: float) -> list[int]:
    """The tracks to keep, ascending: those seen in at least ``min_share`` of the frames that have any face.

    The others are brief, likely spurious detections; the caller reports how many it left out. The longest
    track is always kept, so that a face seen only now and then is still judged (or abstained on) rather than
    silently dropped.
    """
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share must be in [0, 1], got {min_share}")
    frames_with_faces = sum(1 for frame in track_ids if frame)
    counts = track_frame_counts(track_ids)
    # The small tolerance keeps e.g. 3 of 10 frames at min_share 0.3 (0.3 * 10 is 3.0000000000000004).
    needed = min_share * frames_with_faces - 1e-9
    kept = {track for track, count in counts.items() if count >= needed}
    if counts and not kept:
        kept.add(max(counts, key=lambda track: (counts[track], -track)))
    return sorted(kept)
