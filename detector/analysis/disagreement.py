"""Where the models of an ensemble disagree: each model's own verdict per person, and the frames they split on.

An ensemble's verdict is the mean of its models' calibrated probabilities. The mean can hide a split: one model
sure of a fake and another sure of a real average to "Inconclusive", and a reviewer should see that it is a split
and not shared doubt. Each model's verdict is taken the way the ensemble's is (same strategy and abstention rule),
from that model's own probabilities alone and at that model's own thresholds (its card's: the average has
thresholds of its own, fitted for it, which say nothing of one member alone).
"""

from __future__ import annotations

from collections.abc import Sequence

from detector.analysis import aggregation
from detector.types import FaceScore, ModelOpinion, Track, VideoResult, person_label


def model_opinions(
    tracks: Sequence[Track],
    model_names: Sequence[str],
    strategy: str,
    thresholds: Sequence[tuple[float, float]],
    min_frames: int,
) -> tuple[ModelOpinion, ...]:
    """Each model's verdict on each person, at that model's ``(fake, uncertain_low)`` thresholds (one pair per
    model, in ``model_names``' order); empty for a single model (nothing to disagree with)."""
    if len(model_names) < 2:
        return ()
    if len(thresholds) != len(model_names):
        raise ValueError(f"one threshold pair per model: {len(model_names)} models, {len(thresholds)} pairs")
    opinions = []
    for track in tracks:
        for column, (name, (fake_threshold, uncertain_low)) in enumerate(zip(model_names, thresholds, strict=True)):
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


def split_faces(scores: Sequence[FaceScore], thresholds: Sequence[tuple[float, float]]) -> list[FaceScore]:
    """The faces on which the models point opposite ways: one at or above its fake threshold, another under its
    "no sign" threshold (``thresholds``: each model's ``(fake, uncertain_low)``, in the order of the face's
    ``model_probabilities``). Faces scored by one model only are never split."""
    split = []
    for score in scores:
        if len(score.model_probabilities) < 2:
            continue
        pairs = list(zip(score.model_probabilities, thresholds, strict=True))
        says_fake = any(probability >= fake for probability, (fake, _) in pairs)
        says_real = any(probability < low for probability, (_, low) in pairs)
        if says_fake and says_real:
            split.append(score)
    return split


def summary_lines(result: VideoResult) -> list[str]:
    """One sentence per person: whether the models agree, each model's verdict, and the frames they split on (each
    model at the thresholds its opinion was taken at)."""
    lines = []
    disagreeing = set(disagreeing_people(result))
    for track in result.tracks:
        opinions = [opinion for opinion in result.opinions if opinion.track_id == track.track_id]
        if not opinions:
            continue
        label = person_label(track.track_id)
        said = "; ".join(
            f"{opinion.model}: {opinion.verdict.label.plain_words}"
            + (f" ({opinion.verdict.probability_text()})" if opinion.verdict.fake_probability is not None else "")
            for opinion in opinions
        )
        split = split_faces(
            track.scores, [(opinion.verdict.threshold, opinion.verdict.uncertain_low) for opinion in opinions]
        )
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
