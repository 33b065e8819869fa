"""Tracks across sampled frames: people keep their ids, brief detections are told apart."""

from __future__ import annotations

import pytest

from detector.analysis import tracking
from detector.types import FaceBox


def face(center_x: float, center_y: float, size: float) -> FaceBox:
    return FaceBox(center_x - size / 2, center_y - size / 2, size, size, confidence=0.9)


def test_two_people_side_by_side_keep_their_ids() -> None:
    frames = [[face(300 + jitter, 200, 100), face(700 - jitter, 210, 90)] for jitter in (0, 4, -3, 6, 2)]
    frames[2].reverse()  # the detector's order (by size) may change from frame to frame
    assert tracking.assign_tracks(frames, 0.2) == [[0, 1], [0, 1], [1, 0], [0, 1], [0, 1]]


def test_two_people_crossing_keep_their_ids() -> None:
    # A (near, 120 px) walks right, B (far, 70 px, higher up) walks left; they pass each other at frame 3.
    frames = [[face(200 + 50 * step, 300, 120), face(500 - 50 * step, 260, 70)] for step in range(7)]
    ids = tracking.assign_tracks(frames, 0.2)
    assert ids == [[0, 1]] * 7


def test_a_face_missed_in_some_frames_keeps_its_track() -> None:
    a = [face(300 + 10 * i, 200, 100) for i in range(6)]
    b = [face(800, 220 + 5 * i, 80) for i in range(6)]
    frames = [[a[0], b[0]], [b[1]], [b[2]], [a[3], b[3]], [a[4]], [a[5], b[5]]]
    assert tracking.assign_tracks(frames, 0.2) == [[0, 1], [1], [1], [0, 1], [0], [0, 1]]


def test_a_fast_move_without_overlap_falls_back_to_centre_distance() -> None:
    # 90 px a step for a 100 px face: IoU 0.05, under the threshold, but 0.9 face sizes away.
    frames = [[face(300 + 90 * i, 200, 100)] for i in range(4)]
    assert frames[0][0].iou(frames[1][0]) < 0.2
    assert tracking.assign_tracks(frames, 0.2) == [[0], [0], [0], [0]]
    assert tracking.assign_tracks(frames, 0.2, max_center_distance=0.5) == [[0], [1], [2], [3]]


def test_far_or_very_different_faces_start_new_tracks() -> None:
    frames = [
        [face(300, 200, 100)],
        [face(302, 200, 100), face(1200, 600, 100)],  # a second person far away
        [face(302, 200, 300), face(1200, 600, 100)],  # same centre, three times the size: not the same face
    ]
    assert tracking.assign_tracks(frames, 0.2) == [[0], [0, 1], [2, 1]]


def test_a_track_takes_at_most_one_face_per_frame() -> None:
    # Two faces both near the one existing track: the better overlap gets it, the other starts a track.
    frames = [[face(300, 200, 100)], [face(330, 200, 100), face(310, 200, 100)]]
    assert tracking.assign_tracks(frames, 0.2) == [[0], [1, 0]]


def test_tracks_are_numbered_by_first_appearance() -> None:
    frames = [[], [face(100, 100, 50)], [face(500, 100, 50), face(102, 100, 50)], [face(900, 100, 50)]]
    assert tracking.assign_tracks(frames, 0.2) == [[], [0], [1, 0], [2]]


def test_a_spurious_one_frame_detection_is_not_a_major_track() -> None:
    person = [face(400 + 3 * i, 300, 150) for i in range(8)]
    frames = [[box] for box in person]
    frames[3].append(face(1500, 900, 60))  # a false detection in one frame
    ids = tracking.assign_tracks(frames, 0.2)
    assert ids[3] == [0, 1]
    assert tracking.track_frame_counts(ids) == {0: 8, 1: 1}
    assert tracking.major_tracks(ids, 0.25) == [0]
    assert tracking.major_tracks(ids, 0.0) == [0, 1]


def test_zero_faces_everywhere() -> None:
    assert tracking.assign_tracks([[], [], []], 0.2) == [[], [], []]
    assert tracking.assign_tracks([], 0.2) == []
    assert tracking.major_tracks([[], [], []], 0.25) == []
    assert tracking.major_tracks([], 0.25) == []


@pytest.mark.parametrize(
    ("track_ids", "share", "expected"),
    [
        ([[0], [0], [], [], [0, 1]], 0.5, [0]),  # empty frames do not count: 1 of 3 frames with faces < 0.5
        ([[0], [0], [], [], [0, 1]], 1 / 3, [0, 1]),
        ([[0]] * 7 + [[0, 1]] * 3, 0.3, [0, 1]),  # 3 of 10 is exactly 0.3 despite float rounding
        ([[0]] * 8 + [[0, 1]] * 2, 0.3, [0]),
        ([[0], [1], [2], [3], [4]], 0.25, [0]),  # nothing steady: the longest (first on ties) is still judged
        ([[0], [1], [1], [2], [3]], 0.5, [1]),
        ([[0, 1]] * 4, 1.0, [0, 1]),
    ],
)
def test_major_tracks(track_ids: list[list[int]], share: float, expected: list[int]) -> None:
    assert tracking.major_tracks(track_ids, share) == expected


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="iou_threshold"):
        tracking.assign_tracks([], 1.5)
    with pytest.raises(ValueError, match="max_center_distance"):
        tracking.assign_tracks([], 0.2, max_center_distance=-1)
    with pytest.raises(ValueError, match="max_size_ratio"):
        tracking.assign_tracks([], 0.2, max_size_ratio=0.5)
    with pytest.raises(ValueError, match="min_share"):
        tracking.major_tracks([], 1.2)
