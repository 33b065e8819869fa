"""From many face scores to one verdict: named strategies and the abstention rule.

A strategy turns the fake probabilities of one person's faces, ``(N,) float`` in [0, 1], into one probability.
Strategies are pure, chosen by name, and take their thresholds as parameters. ``decide`` applies the abstention
rule and the decision thresholds; ``decide_video`` combines the people in a video.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from detector.types import Track, Verdict, VerdictLabel, probability_text, threshold_text


def mean_strategy(probabilities: np.ndarray) -> float:
    """The plain mean: every frame counts the same."""
    return float(np.mean(probabilities))


def median_strategy(probabilities: np.ndarray) -> float:
    """The median: robust to a few frames where the face is blurred, turned away or badly cropped."""
    return float(np.median(probabilities))


def confident_strategy(
    probabilities: np.ndarray,
    fake_level: float = 0.8,
    real_level: float = 0.2,
    min_fake_share: float = 0.4,
    min_real_share: float = 0.9,
) -> float:
    """The DFDC winner's idea: trust the confident frames when there are enough of them.

    Face swaps often fail visibly in only some frames (a turn of the head, occlusion), so when a large share of
    frames is confidently fake, their mean is reported instead of being diluted by the rest. A clip is called
    confidently real only when almost all of its frames are. Otherwise the plain mean.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confident_fake = probabilities[probabilities > fake_level]
    confident_real = probabilities[probabilities < real_level]
    if confident_fake.size >= max(2, math.ceil(min_fake_share * probabilities.size)):
        return float(np.mean(confident_fake))
    if confident_real.size >= min_real_share * probabilities.size:
        return float(np.mean(confident_real))
    return float(np.mean(probabilities))


STRATEGIES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": mean_strategy,
    "median": median_strategy,
    "confident": confident_strategy,
}


def aggregate(probabilities: Sequence[float] | np.ndarray, strategy: str) -> float:
    """One probability from many with the named strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"aggregation strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    values = np.asarray(probabilities, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("cannot aggregate zero probabilities")
    if np.any((values < 0) | (values > 1)) or np.any(np.isnan(values)):
        raise ValueError("probabilities must be in [0, 1]")
    return STRATEGIES[strategy](values)


def label_for(probability: float, fake_threshold: float, uncertain_low: float) -> VerdictLabel:
    """FAKE at or above ``fake_threshold``; UNCERTAIN in ``[uncertain_low, fake_threshold)``; REAL below."""
    if probability >= fake_threshold:
        return VerdictLabel.FAKE
    if probability >= uncertain_low:
        return VerdictLabel.UNCERTAIN
    return VerdictLabel.REAL


def decide(
    probabilities: Sequence[float] | np.ndarray,
    strategy: str,
    fake_threshold: float,
    uncertain_low: float,
    min_frames: int,
) -> Verdict:
    """The verdict over one person's face probabilities (one per frame), or an abstention with its reason."""
    values = np.asarray(probabilities, dtype=np.float64).ravel()
    above = int(np.count_nonzero(values >= fake_threshold))
    below = int(np.count_nonzero(values < min(uncertain_low, fake_threshold)))
    if values.size < min_frames:
        return Verdict(
            label=VerdictLabel.UNCERTAIN,
            fake_probability=None,
            reason=(f"Too few frames with a usable face: {values.size} (at least {min_frames} are needed to judge)."),
            strategy=strategy,
            threshold=fake_threshold,
            uncertain_low=uncertain_low,
            frames_used=int(values.size),
            frames_above_threshold=above,
            frames_below_low=below,
        )
    probability = aggregate(values, strategy)
    label = label_for(probability, fake_threshold, uncertain_low)
    fake, low = threshold_text(fake_threshold), threshold_text(uncertain_low)
    reasons = {
        VerdictLabel.FAKE: f"{above} of {values.size} frames scored at or above the threshold {fake}.",
        VerdictLabel.REAL: f"{values.size - above} of {values.size} frames scored below the threshold {fake}."
        if uncertain_low >= fake_threshold
        else f"{below} of {values.size} frames scored below {low}, where a frame alone shows no sign of manipulation; "
        f"{above} at or above the threshold {fake}.",
        VerdictLabel.UNCERTAIN: f"The combined score {probability_text(probability, (fake_threshold, uncertain_low))} "
        f"is in the inconclusive band, from {low} up to {fake}: too high to say no sign of manipulation was found, "
        "too low to call the face likely manipulated.",
    }
    return Verdict(
        label=label,
        fake_probability=probability,
        reason=reasons[label],
        strategy=strategy,
        threshold=fake_threshold,
        uncertain_low=uncertain_low,
        frames_used=int(values.size),
        frames_above_threshold=above,
        frames_below_low=below,
    )


def decide_video(
    tracks: Sequence[Track], strategy: str, fake_threshold: float, uncertain_low: float, no_track_reason: str
) -> Verdict:
    """The video's verdict: the most suspicious person who could be judged decides.

    A video is manipulated when any one person in it is, so the person with the most suspicious label decides
    (FAKE before UNCERTAIN before REAL), the highest probability among them. Labels follow probabilities, except
    for a person whose faces were too poor to judge (``quality.review_verdict``): their high probability reads
    UNCERTAIN and must not hide another person judged FAKE. When nobody could be judged, the video is UNCERTAIN
    with ``no_track_reason`` (or the first person's own reason).
    """
    judged = [track for track in tracks if track.verdict.fake_probability is not None]
    if not judged:
        reason = tracks[0].verdict.reason if tracks else no_track_reason
        frames = max((track.verdict.frames_used for track in tracks), default=0)
        return Verdict(
            label=VerdictLabel.UNCERTAIN,
            fake_probability=None,
            reason=reason,
            strategy=strategy,
            threshold=fake_threshold,
            uncertain_low=uncertain_low,
            frames_used=frames,
        )
    order = {VerdictLabel.REAL: 0, VerdictLabel.UNCERTAIN: 1, VerdictLabel.FAKE: 2}
    worst = max(judged, key=lambda track: (order[track.verdict.label], track.verdict.fake_probability or 0.0))
    verdict = worst.verdict
    reason = verdict.reason if len(tracks) == 1 else f"Person {worst.track_id + 1}: {verdict.reason}"
    return Verdict(
        label=verdict.label,
        fake_probability=verdict.fake_probability,
        reason=reason,
        strategy=strategy,
        threshold=fake_threshold,
        uncertain_low=uncertain_low,
        frames_used=verdict.frames_used,
        frames_above_threshold=verdict.frames_above_threshold,
        frames_below_low=verdict.frames_below_low,
    )
