"""Tests for detector/disagreement.py: each model's own verdict, and the frames where models split."""

from __future__ import annotations

import dataclasses

from conftest import make_result

from detector.analysis import disagreement
from detector.types import VerdictLabel


def with_models(result, per_model_by_track: dict[int, list[tuple[float, float]]]):
    """``result`` with each face's two model probabilities set (their mean is the face's probability)."""
    tracks = []
    for track in result.tracks:
        pairs = per_model_by_track[track.track_id]
        scores = tuple(
            dataclasses.replace(score, fake_probability=sum(pair) / 2, model_probabilities=pair)
            for score, pair in zip(track.scores, pairs, strict=True)
        )
        tracks.append(dataclasses.replace(track, scores=scores))
    return dataclasses.replace(result, tracks=tuple(tracks), model_names=("a", "b"))


# Both models at fake >= 0.8, "no sign" under 0.2.
BOTH = [(0.8, 0.2), (0.8, 0.2)]


def test_each_model_is_judged_at_its_own_thresholds():
    result = with_models(make_result({0: [0.7] * 6}), {0: [(0.7, 0.7)] * 6})
    opinions = disagreement.model_opinions(result.tracks, ("a", "b"), "mean", [(0.8, 0.2), (0.6, 0.3)], 4)
    assert [(o.model, o.verdict.label) for o in opinions] == [("a", VerdictLabel.UNCERTAIN), ("b", VerdictLabel.FAKE)]
    assert [(o.verdict.threshold, o.verdict.uncertain_low) for o in opinions] == [(0.8, 0.2), (0.6, 0.3)]
    # A face at 0.25 by both: under b's "no sign" threshold only; with a at or above its fake one, it is split.
    result = with_models(make_result({0: [0.5] * 2}), {0: [(0.85, 0.25), (0.75, 0.25)]})
    split = disagreement.split_faces(result.tracks[0].scores, [(0.8, 0.2), (0.6, 0.3)])
    assert [score.model_probabilities for score in split] == [(0.85, 0.25)]


def test_each_model_is_judged_alone_by_the_same_rule():
    result = with_models(make_result({0: [0.5] * 6}), {0: [(0.95, 0.05)] * 6})
    opinions = disagreement.model_opinions(result.tracks, ("a", "b"), "mean", BOTH, 4)
    assert [(o.model, o.verdict.label) for o in opinions] == [("a", VerdictLabel.FAKE), ("b", VerdictLabel.REAL)]
    assert disagreement.model_opinions(result.tracks, ("a",), "mean", BOTH[:1], 4) == ()


def test_split_faces_are_those_where_one_model_says_fake_and_another_real():
    pairs = [(0.95, 0.05), (0.9, 0.5), (0.1, 0.15), (0.85, 0.19)]
    result = with_models(make_result({0: [0.5] * 4}), {0: pairs})
    split = disagreement.split_faces(result.tracks[0].scores, BOTH)
    assert [score.model_probabilities for score in split] == [(0.95, 0.05), (0.85, 0.19)]


def test_summary_names_each_models_verdict_and_the_split_frames():
    result = with_models(make_result({0: [0.5] * 6, 1: [0.5] * 6}), {0: [(0.95, 0.05)] * 6, 1: [(0.1, 0.12)] * 6})
    result = dataclasses.replace(
        result, opinions=disagreement.model_opinions(result.tracks, ("a", "b"), "mean", BOTH, 4)
    )
    assert disagreement.disagreeing_people(result) == [0]
    first, second = disagreement.summary_lines(result)
    assert first.startswith("Person 1: the models disagree (a: Likely manipulated (0.95); b: No sign")
    assert "In 6 of 6 frames one model calls the face manipulated while another finds no sign of it" in first
    assert "at 0.0 s, 0.5 s, 1.0 s" in first
    assert second.startswith("Person 2: the 2 models agree (a: No sign of manipulation found (0.10)")
    assert "frames one model" not in second


def test_no_opinions_no_summary():
    assert disagreement.summary_lines(make_result({0: [0.9] * 4})) == []
