"""Where the models of an ensemble disagree: each model's own verdict per person, and the frames they split on.

An ensemble's verdict is the mean of its models' calibrated probabilities. The mean can hide a split: one model
sure of a fake and another sure of a real average to "Inconclusive", and a reviewer should see that it is a split
and not shared doubt. Each model's verdict is taken the way the ensemble's is (same strategy, thresholds and
abstention rule), from that model's own probabilities alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from detector import aggregation
from detector.charts import person_label
from detector.types import FaceScore, ModelOpinion, Track, VideoResult


def model_opinions(
    tracks: Sequence[Track],
    model_names: Sequence[str],
    strategy: str,
    fake_threshold: float,
    uncertain_low: float,
    min_frames: int,
) -> tuple[ModelOpinion, ...]:
    """Each model's verdict on each person; empty for a single model (nothing to disagree with)."""
    if len(model_names) < 2:
        return ()
    opinions = []
    for track in tracks:
        for column, name in enumerate(model_names):
            values = [score.model_probabilities[column] for score in track.scores]
            verdict = aggregation.decide(values, strategy, fake_threshold, uncertain_low, min_frames)
            opinions.append(ModelOpinion(name, track.track_id, verdict))
    return tuple(opinions)


def disagreeing_people(result: VideoResult) -> list[int]:
    """The track ids of the people on whom the models' verdicts differ."""
    labels: dict[int, set] = {}
    for opinion in result.opinions:
        labels.setdefault(opinion.track_id, set()).add(opinion.verdict.label)
    return sorted(track_id for track_id, seen in labels.items() if len(seen) > 1)


def split_faces(scores: Sequence[FaceScore], fake_threshold: float, uncertain_low: float) -> list[FaceScore]:
    """The faces on which the models point opposite ways: one at or above the fake threshold, another under the
    "no sign" threshold. Faces scored by one model only are never split."""
    return [
        score
        for score in scores
        if len(score.model_probabilities) > 1
        and max(score.model_probabilities) >= fake_threshold
        and min(score.model_probabilities) < uncertain_low
    ]


def summary_lines(result: VideoResult, fake_threshold: float, uncertain_low: float) -> list[str]:
    """One sentence per person: whether the models agree, each model's verdict, and the frames they split on."""
    lines = []
    disagreeing = set(disagreeing_people(result))
    for track in result.tracks:
        opinions = [opinion for opinion in result.opinions if opinion.track_id == track.track_id]
        if not opinions:
            continue
        label = person_label(track.track_id)
        said = "; ".join(
            f"{opinion.model}: {opinion.verdict.label.plain_words}"
            + (f" ({opinion.verdict.fake_probability:.2f})" if opinion.verdict.fake_probability is not None else "")
            for opinion in opinions
        )
        split = split_faces(track.scores, fake_threshold, uncertain_low)
        if track.track_id in disagreeing:
            line = f"{label}: the models disagree ({said})."
        else:
            line = f"{label}: the {len(opinions)} models agree ({said})."
        if split:
            times = ", ".join(f"{score.time_seconds:.1f} s" for score in split[:8])
            more = f" and {len(split) - 8} more" if len(split) > 8 else ""
            line += (
                f" In {len(split)} of {len(track.scores)} frames one model calls the face manipulated while another "
                f"finds no sign of it (at {times}{more})."
            )
        lines.append(line)
    return lines
