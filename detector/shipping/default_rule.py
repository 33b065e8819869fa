"""The rule for a new default (DESIGN.md, "The default model, and the rule for a new one": the rule from the
generalisation work, line 4 as amended on 2026-12-03), as code, so that a candidate is judged the same way every time.

A candidate replaces the default only if it passes every line, each read on the sets' report halves or held-out
people, against the default's own figures:

1. DFDC is not lost: DFDC validation ROC AUC at least the default's minus ``DFDC_MARGIN``;
2. the benchmark gains: the mean ROC AUC of the four never-trained sets above the default's by more than
   ``NEVER_TRAINED_GAIN``, none of them below the default's by more than ``NEVER_TRAINED_DROP``, and the FF++
   methods' mean above the default's;
3. reals stay real: at most ``UNSEEN_CALLED_FAKE`` of the unseen UTKFace people called "Likely manipulated"; and on
   the sample clips, at the candidate's video thresholds as the page decides, no real clip called fake and every
   fake clip caught;
4. probabilities mean what they say: ECE at most ``DFDC_ECE`` on DFDC, at most the default's plus
   ``UNSEEN_ECE_MARGIN`` on the unseen people, and a mean ECE over the eight sets of lines 2 at most the default's;
5. cost: scoring at most ``TIME_RATIO`` times the default's time, both timed on the same faces, one after the other.

Lines 1, 2, 4 and the first half of 3 are read from the two cards (``benchmark --record`` wrote them); the sample
clips and the time are measured by running both models (``judge_sample_clips``, ``judge_time``). A line that has
no figure is "not measured", never passed: a candidate with one is not yet judged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detector.models import model_card
from detector.training import datasets
from detector.types import VerdictLabel

DFDC_MARGIN = 0.005
NEVER_TRAINED_GAIN = 0.02
NEVER_TRAINED_DROP = 0.01
UNSEEN_CALLED_FAKE = 0.05
DFDC_ECE = 0.05
UNSEEN_ECE_MARGIN = 0.02
TIME_RATIO = 2.0

# The sets no model here trains on (face swaps and reenactment proxies of UTKFace and DFDC people), and the FF++
# methods: the benchmark's keys (``detector.evaluation.benchmark.SETS``).
NEVER_TRAINED = ("unseen_face_swaps", "dfdc_face_swaps", "utkface_reenactments", "dfdc_reenactments")
FFPP = ("ffpp_deepfakes", "ffpp_face2face", "ffpp_faceswap", "ffpp_neuraltextures")
UNSEEN_PEOPLE = "unseen_real_faces"

ROC_AUC = "roc_auc"
ECE = "expected_calibration_error"


@dataclass(frozen=True)
class Line:
    """One clause of the rule: what it asks (with the numbers in force), the default's and the candidate's figures
    in words, and whether the candidate passes (None: not measured, so not judged)."""

    number: int
    asks: str
    default: str
    candidate: str
    passed: bool | None

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 5:
            raise ValueError(f"the rule has lines 1 to 5, not {self.number}")


@dataclass(frozen=True)
class ClipVerdict:
    """One sample clip's verdict under a model, as the page gives it."""

    file: str
    label: int  # 1: fake, 0: real
    verdict: VerdictLabel
    fake_probability: float | None


def _figure(metrics: Mapping[str, Any], key: str, figure: str) -> float | None:
    measured = metrics.get(key)
    value = measured.get(figure) if isinstance(measured, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def _figures(metrics: Mapping[str, Any], keys: Sequence[str], figure: str) -> list[float] | None:
    values = [_figure(metrics, key, figure) for key in keys]
    return None if any(value is None for value in values) else [float(value) for value in values]


def _called_fake(metrics: Mapping[str, Any]) -> float | None:
    decisions = metrics.get(f"{UNSEEN_PEOPLE}_decisions")
    rate = decisions.get("false_positive_rate") if isinstance(decisions, Mapping) else None
    return float(rate) if isinstance(rate, int | float) else None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _text(value: float | None, digits: int = 3) -> str:
    return "not measured" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1%}"


def _each(values: Sequence[float] | None) -> str:
    return "not measured" if values is None else " / ".join(f"{value:.3f}" for value in values)


def _compare(candidate: float | None, default: float | None, passes: Callable[[float, float], bool]) -> bool | None:
    return None if candidate is None or default is None else bool(passes(candidate, default))


def judge_cards(candidate: model_card.ModelCard, default: model_card.ModelCard) -> list[Line]:
    """Lines 1, 2, the unseen people of 3, and 4, from the figures ``benchmark --record`` wrote into both cards."""
    theirs, ours = candidate.metrics, default.metrics
    lines = []

    auc, auc_default = _figure(theirs, "validation", ROC_AUC), _figure(ours, "validation", ROC_AUC)
    floor = None if auc_default is None else auc_default - DFDC_MARGIN
    lines.append(
        Line(
            1,
            f"DFDC validation ROC AUC at least {_text(floor)} (the default's minus {DFDC_MARGIN})",
            _text(auc_default),
            _text(auc),
            _compare(auc, floor, lambda value, bound: value >= bound),
        )
    )

    never, never_default = _figures(theirs, NEVER_TRAINED, ROC_AUC), _figures(ours, NEVER_TRAINED, ROC_AUC)
    mean, mean_default = (None if values is None else _mean(values) for values in (never, never_default))
    bar = None if mean_default is None else mean_default + NEVER_TRAINED_GAIN
    gain = "" if mean is None or mean_default is None else f" ({mean - mean_default:+.3f})"
    lines.append(
        Line(
            2,
            f"mean ROC AUC of the four never-trained sets above {_text(bar)} (the default's plus {NEVER_TRAINED_GAIN})",
            _text(mean_default),
            _text(mean) + gain,
            _compare(mean, bar, lambda value, bound: value > bound),
        )
    )
    drops = (
        None if never is None or never_default is None else [a - b for a, b in zip(never, never_default, strict=True)]
    )
    lines.append(
        Line(
            2,
            f"none of the four never-trained sets below the default's by more than {NEVER_TRAINED_DROP}",
            _each(never_default),
            _each(never),
            None if drops is None else all(drop >= -NEVER_TRAINED_DROP for drop in drops),
        )
    )
    ffpp, ffpp_default = _figures(theirs, FFPP, ROC_AUC), _figures(ours, FFPP, ROC_AUC)
    ffpp_mean, ffpp_mean_default = (None if values is None else _mean(values) for values in (ffpp, ffpp_default))
    lines.append(
        Line(
            2,
            f"mean ROC AUC of the four FF++ methods above the default's ({_text(ffpp_mean_default)})",
            f"{_text(ffpp_mean_default)} ({_each(ffpp_default)})",
            f"{_text(ffpp_mean)} ({_each(ffpp)})",
            _compare(ffpp_mean, ffpp_mean_default, lambda value, bound: value > bound),
        )
    )

    called, called_default = _called_fake(theirs), _called_fake(ours)
    lines.append(
        Line(
            3,
            f'unseen real people called "Likely manipulated": at most {UNSEEN_CALLED_FAKE:.0%}',
            _percent(called_default),
            _percent(called),
            None if called is None else called <= UNSEEN_CALLED_FAKE,
        )
    )

    dfdc_ece = _figure(theirs, "validation", ECE)
    lines.append(
        Line(
            4,
            f"ECE on DFDC at most {DFDC_ECE}",
            _text(_figure(ours, "validation", ECE)),
            _text(dfdc_ece),
            None if dfdc_ece is None else dfdc_ece <= DFDC_ECE,
        )
    )
    unseen_ece, unseen_ece_default = _figure(theirs, UNSEEN_PEOPLE, ECE), _figure(ours, UNSEEN_PEOPLE, ECE)
    ceiling = None if unseen_ece_default is None else unseen_ece_default + UNSEEN_ECE_MARGIN
    lines.append(
        Line(
            4,
            f"ECE on the unseen people at most {_text(ceiling)} (the default's plus {UNSEEN_ECE_MARGIN})",
            _text(unseen_ece_default),
            _text(unseen_ece),
            _compare(unseen_ece, ceiling, lambda value, bound: value <= bound),
        )
    )
    eight, eight_default = _figures(theirs, NEVER_TRAINED + FFPP, ECE), _figures(ours, NEVER_TRAINED + FFPP, ECE)
    eight_mean, eight_mean_default = (None if values is None else _mean(values) for values in (eight, eight_default))
    lines.append(
        Line(
            4,
            f"mean ECE of the eight sets of line 2 at most the default's ({_text(eight_mean_default)})",
            f"{_text(eight_mean_default)} ({_each(eight_default)})",
            f"{_text(eight_mean)} ({_each(eight)})",
            _compare(eight_mean, eight_mean_default, lambda value, bound: value <= bound),
        )
    )
    return lines


@dataclass(frozen=True)
class SampleClipRun:
    """One model's verdicts on the sample clips and the seconds it spent scoring their faces (the pipeline's
    ``timings_seconds["score"]``, summed)."""

    verdicts: tuple[ClipVerdict, ...]
    scoring_seconds: float


def run_sample_clips(
    clips: datasets.CropSet, scorers: Mapping[str, Any], config: Any, detector: Any
) -> dict[str, SampleClipRun]:
    """Analyses every clip of ``clips`` (a ``datasets.CropSet`` of videos) with each scorer, as the page does, the
    models taking turns clip by clip so that both are timed under the same load. Each model analyses the first clip
    once before, untimed (its first calls build the graph). A clip that cannot be read raises: the sample clips are
    known good, so that is a broken setup, not a verdict."""
    from detector.analysis import pipeline

    for scorer in scorers.values():
        pipeline.analyze(clips.root / clips.files[0], scorer, config, detector)
    verdicts: dict[str, list[ClipVerdict]] = {name: [] for name in scorers}
    seconds = dict.fromkeys(scorers, 0.0)
    for name, label in zip(clips.files, clips.labels, strict=True):
        for model, scorer in scorers.items():
            result = pipeline.analyze(clips.root / name, scorer, config, detector)
            seconds[model] += result.timings_seconds["score"]
            found = result.verdict
            verdicts[model].append(ClipVerdict(name, int(label), found.label, found.fake_probability))
    return {model: SampleClipRun(tuple(verdicts[model]), seconds[model]) for model in scorers}


def _clip_words(clips: Sequence[ClipVerdict]) -> str:
    if not clips:
        return "not measured"
    return "; ".join(
        f"{clip.file} ({'fake' if clip.label else 'real'}): {clip.verdict.plain_words}"
        + ("" if clip.fake_probability is None else f" {clip.fake_probability:.2f}")
        for clip in clips
    )


def judge_sample_clips(
    candidate: Sequence[ClipVerdict], default: Sequence[ClipVerdict], video_thresholds: bool = True
) -> Line:
    """Line 3's sample clips: no real clip called "Likely manipulated" and every fake clip caught, at the verdicts
    the page gives. The rule means the card's video thresholds (fitted on the clip benchmark): without them
    (``video_thresholds`` False: the card has none, so the page falls back on the crop thresholds) the verdicts are
    shown but the line is not measured. Not measured either without the candidate's clips."""
    passed = None
    if candidate and video_thresholds:
        reals_kept = all(clip.verdict != VerdictLabel.FAKE for clip in candidate if clip.label == 0)
        fakes_caught = all(clip.verdict == VerdictLabel.FAKE for clip in candidate if clip.label == 1)
        passed = reals_kept and fakes_caught
    words = _clip_words(candidate)
    if candidate and not video_thresholds:
        words += " (at the crop thresholds: the card has no video thresholds; run benchmark --record --video)"
    return Line(
        3,
        'sample clips, as the page decides them: no real one called "Likely manipulated", every fake one caught',
        _clip_words(default),
        words,
        passed,
    )


def judge_time(candidate_seconds: float | None, default_seconds: float | None) -> Line:
    """Line 5: the candidate's scoring time against the default's on the same faces (seconds, any unit alike)."""
    ratio = None
    if candidate_seconds is not None and default_seconds is not None:
        if default_seconds <= 0:
            raise ValueError("the default's scoring time must be positive")
        ratio = candidate_seconds / default_seconds
    return Line(
        5,
        f"scoring time at most {TIME_RATIO:g} times the default's, on the same faces",
        "not measured" if default_seconds is None else f"{default_seconds:.2f} s",
        "not measured" if ratio is None else f"{candidate_seconds:.2f} s ({ratio:.2f}x)",
        None if ratio is None else ratio <= TIME_RATIO,
    )


def verdict(lines: Sequence[Line]) -> str:
    """The rule's outcome in one sentence: which lines fail, else which are not measured, else that it passes."""
    failed = sorted({line.number for line in lines if line.passed is False})
    unmeasured = sorted({line.number for line in lines if line.passed is None})
    if failed:
        listed = ", ".join(str(number) for number in failed)
        return f"fails line{'s' if len(failed) > 1 else ''} {listed}: not shipped"
    if unmeasured:
        listed = ", ".join(str(number) for number in unmeasured)
        return f"not yet judged: line{'s' if len(unmeasured) > 1 else ''} {listed} not measured"
    return "passes every line: it may replace the default"


def table(lines: Sequence[Line], candidate_name: str, default_name: str) -> list[str]:
    """The lines as a Markdown table, as EXPERIMENTS.md records a judgement."""
    rows = [
        f"| line | asks | {default_name} (default) | {candidate_name} | passes |",
        "|---|---|---|---|---|",
    ]
    for line in lines:
        passed = {True: "yes", False: "**no**", None: "not measured"}[line.passed]
        rows.append(f"| {line.number} | {line.asks} | {line.default} | {line.candidate} | {passed} |")
    return rows
