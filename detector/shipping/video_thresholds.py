"""Video-level decisions chosen on clips: the thresholds a whole video's verdict uses, fitted per aggregation
strategy on half of the clip benchmark and measured on the other half.

A crop's thresholds (``model_card.Thresholds``, fitted on single DFDC crops) are not a video's: a video's score
is an aggregate over dozens of frames (``aggregation.STRATEGIES``), which moves its distribution (a mean of
noisy scores lies closer to the middle; a confident strategy further out), and the clips carry compression and
motion no crop set has. So ``fit`` runs the whole verdict path (sampling, detection, tracks, aggregation) on every
clip once, keeps each person's per-frame probabilities, and for every strategy:

1. scores each clip as its most suspicious judged person (the pipeline's rule, ``aggregation.decide_video``);
2. fits the thresholds on the clips of the *fit half* by error budgets (``choose_video_thresholds``: at most 5% of
   real clips called fake, at most 10% of fake clips called real, the band between inconclusive);
3. measures them on the *report half*: ROC AUC with a bootstrap interval over groups (a person's real and fake
   clips resample together) and the three-way decision rates.

How a clip that the quality check makes inconclusive counts (``quality.review_verdict``: most of its faces too
small, blurry or compressed): its score still counts in the ROC AUC (the model did score it), and in the decision
rates it is inconclusive, whatever its score: neither a fake caught nor a real wrongly accused. A clip where no face
was found, or that could not be read, has no score: it is counted apart (``no_score``) and left out of both.
The halves are by group (``in_fit_half``), stable and independent of every training split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from detector.analysis import aggregation
from detector.errors import DetectorError
from detector.evaluation import benchmark_clips, metrics
from detector.evaluation.benchmark_clips import TrainedOn
from detector.models import model_card
from detector.shipping import calibrate
from detector.training import datasets

logger = logging.getLogger(__name__)

FIT_HALF_WORDS = (
    "clips whose group's SHA-1 of 'video-half:' + group is even fit the thresholds; the other groups' clips "
    "(the report half) measure them"
)


def in_fit_half(group: str) -> bool:
    """Stable half of the clips' groups (people): those ``benchmark_clips.in_report_half`` leaves out, so that
    the clip set's ``labels-fit.csv`` holds exactly the clips fitted on here."""
    return not benchmark_clips.in_report_half(group)


@dataclass(frozen=True)
class ClipScores:
    """What the pipeline found in one clip: each judged person's per-frame fake probabilities, and whether the
    quality check made that person inconclusive. ``people`` is empty when no face could be judged."""

    file: str
    label: int
    group: str
    people: tuple[np.ndarray, ...]
    poor_quality: tuple[bool, ...]
    min_frames: int

    def decisive(self, strategy: str) -> tuple[float, bool] | None:
        """The score under ``strategy`` of the most suspicious person judged (one with at least ``min_frames``
        frames), and whether the quality check made that person inconclusive; None when nobody was judged."""
        judged = [
            (aggregation.aggregate(values, strategy), poor)
            for values, poor in zip(self.people, self.poor_quality, strict=True)
            if len(values) >= self.min_frames
        ]
        return max(judged) if judged else None

    def probability(self, strategy: str) -> float | None:
        """The clip's score under ``strategy``: its most suspicious person's, or None when nobody was judged."""
        decisive = self.decisive(strategy)
        return None if decisive is None else decisive[0]

    def inconclusive_by_quality(self, strategy: str) -> bool:
        """True when the person whose score decides was made inconclusive by the quality check."""
        decisive = self.decisive(strategy)
        return decisive is not None and decisive[1]


def analyse_clips(clips: datasets.CropSet, scorer: Any, config: Any, detector: Any) -> list[ClipScores]:
    """Runs the pipeline once on every clip (``clips.files`` relative to ``clips.root``)."""
    from detector.analysis import pipeline

    found = []
    for position, (name, label, group) in enumerate(zip(clips.files, clips.labels, clips.groups, strict=True)):
        try:
            result = pipeline.analyze(clips.root / name, scorer, config, detector)
        except DetectorError as error:
            logger.warning("%s: cannot analyse: %s", name, error)
            found.append(ClipScores(name, int(label), group, (), (), 1))
            continue
        severe = {issue.track_id for issue in result.quality_issues if issue.severe}
        people = tuple(np.array([score.fake_probability for score in track.scores]) for track in result.tracks)
        poor = tuple(track.track_id in severe for track in result.tracks)
        min_frames = min(config.min_frames_with_face, result.info.frame_count)
        found.append(ClipScores(name, int(label), group, people, poor, min_frames))
        if (position + 1) % 20 == 0:
            logger.info("analysed %d of %d clips", position + 1, len(clips))
    return found


def scores_cache_path(folder: Path, card: model_card.ModelCard, clips: datasets.CropSet, config: Any) -> Path:
    """Where ``analyse_clips``'s result for this model (its weights and calibration), these clips and this
    configuration is kept, so that fitting again does not run the pipeline again."""
    key = hashlib.sha1(
        json.dumps(
            [
                card.sha256,
                dataclasses.asdict(card.calibration) if card.calibration else None,
                str(clips.root),
                list(clips.files),
                repr(config),
            ]
        ).encode()
    ).hexdigest()[:16]
    return folder / f"clip-scores-{card.name}-{key}.json"


def save_scores(path: Path, clips: Sequence[ClipScores]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            **dataclasses.asdict(clip),
            "people": [values.tolist() for values in clip.people],
            "poor_quality": list(clip.poor_quality),
        }
        for clip in clips
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")


def load_scores(path: Path) -> list[ClipScores]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        ClipScores(
            row["file"],
            row["label"],
            row["group"],
            tuple(np.asarray(values, np.float64) for values in row["people"]),
            tuple(row["poor_quality"]),
            row["min_frames"],
        )
        for row in rows
    ]


def measure_at(clips: Sequence[ClipScores], strategy: str, thresholds: model_card.Thresholds) -> dict[str, Any]:
    """The report half's decision rates at given thresholds (the crops', to compare with the fitted ones)."""
    report_half = [clip for clip in clips if not in_fit_half(clip.group)]
    labels, probabilities, poor, _ = _arrays(report_half, strategy)
    return decision_rates(labels, probabilities, poor, thresholds)


def decision_rates(
    labels: np.ndarray, probabilities: np.ndarray, poor: np.ndarray, thresholds: model_card.Thresholds
) -> dict[str, Any]:
    """``metrics.decision_rates`` at ``thresholds`` for clips, where a clip the quality check made inconclusive
    (``poor``) is inconclusive whatever its score; ``uncertain_by_quality`` is their share of all clips."""
    rates = metrics.decision_rates(labels, probabilities, thresholds.fake, thresholds.uncertain_low, abstain=poor)
    return {**rates, "uncertain_by_quality": float(np.mean(poor)) if labels.size else None}


def caught(rates: dict[str, Any]) -> float | None:
    """The share of fake clips called "Likely manipulated", from ``decision_rates``'s numbers."""
    missed, unsure = rates.get("false_negative_rate"), rates.get("uncertain_share_fake")
    if missed is None or unsure is None:
        return None
    return 1.0 - missed - unsure


def _arrays(clips: Sequence[ClipScores], strategy: str) -> tuple[np.ndarray, ...]:
    """Labels, scores, quality flags and groups of the clips with a score under ``strategy``."""
    kept = [(clip, decisive) for clip in clips if (decisive := clip.decisive(strategy)) is not None]
    return (
        np.array([clip.label for clip, _ in kept], np.int32),
        np.array([score for _, (score, _) in kept], np.float64),
        np.array([poor for _, (_, poor) in kept], bool),
        np.array([clip.group for clip, _ in kept], dtype=object),
    )


# A video's error budgets on the fit half: at most this share of real videos called "Likely manipulated", and of
# fake videos called "No sign of manipulation found"; what neither side can claim within them is inconclusive.
MAX_REALS_CALLED_FAKE = 0.05
MAX_FAKES_CALLED_REAL = 0.10


def choose_video_thresholds(labels: np.ndarray, probabilities: np.ndarray, strategy: str) -> model_card.Thresholds:
    """A video's thresholds from the fit half's clips (``labels`` 1 = fake, their scores), by error budgets.

    FAKE from the lowest score that calls at most ``MAX_REALS_CALLED_FAKE`` of the real clips fake (and, where the
    crops' rule can be met, at least as high as its 90%-precision threshold); REAL below the highest score that
    calls at most ``MAX_FAKES_CALLED_REAL`` of the fake clips real; in between, inconclusive. Unlike the crops'
    rule, which falls back to the equal-error point where 90% precision is out of reach, a budget never forces
    calls the model cannot back: a model that tells the clips apart poorly gets a wide inconclusive band, which
    is what a reviewer should be told, rather than a third of real videos called fake.
    """
    labels, probabilities = metrics.validated_arrays(labels, probabilities)
    reals, fakes = np.sort(probabilities[labels == 0]), np.sort(probabilities[labels == 1])
    # The smallest threshold t with mean(reals >= t) <= budget: above the (1 - budget) quantile of the reals.
    allowed = int(np.floor(MAX_REALS_CALLED_FAKE * reals.size))
    fake = float(np.nextafter(reals[reals.size - allowed - 1], np.inf)) if allowed < reals.size else 0.0
    choice = calibrate.choose_thresholds(labels, probabilities)
    if choice.fake_target_met:
        fake = max(fake, choice.fake)
    # The largest threshold t with mean(fakes < t) <= budget: at the budget's quantile of the fakes.
    missed = int(np.floor(MAX_FAKES_CALLED_REAL * fakes.size))
    uncertain_low = float(fakes[missed]) if missed < fakes.size else 1.0
    fake = min(fake, 1.0)
    # Four decimals, rounded away from the calls each budget limits, so that rounding cannot break a budget.
    fake = float(np.ceil(fake * 1e4) / 1e4)
    uncertain_low = float(np.floor(min(uncertain_low, fake) * 1e4) / 1e4)
    return model_card.Thresholds(
        fake=fake,
        uncertain_low=uncertain_low,
        chosen_on=f"clips: {FIT_HALF_WORDS}; aggregation {strategy!r}; at most {MAX_REALS_CALLED_FAKE:.0%} of real "
        f"and {MAX_FAKES_CALLED_REAL:.0%} of fake clips called wrongly on the fit half",
    )


def fit(
    clips: Sequence[ClipScores],
    strategies: Sequence[str] = tuple(aggregation.STRATEGIES),
    seed: int = 0,
    resamples: int = 1000,
) -> dict[str, dict[str, Any]]:
    """For each strategy: thresholds fitted on the fit half and their measurement on the report half (ROC AUC
    interval from ``resamples`` bootstrap resamples of the report half's groups)."""
    fit_half = [clip for clip in clips if in_fit_half(clip.group)]
    report_half = [clip for clip in clips if not in_fit_half(clip.group)]
    chosen: dict[str, dict[str, Any]] = {}
    for strategy in strategies:
        labels, probabilities, _, _ = _arrays(fit_half, strategy)
        if min(int(labels.sum()), int(labels.size - labels.sum())) < calibrate.MIN_PER_CLASS:
            raise DetectorError(f"too few clips of each kind in the fit half ({labels.size}) to fit thresholds")
        thresholds = choose_video_thresholds(labels, probabilities, strategy)
        report_labels, report_probabilities, poor, groups = _arrays(report_half, strategy)
        measured = metrics.classification_metrics(report_labels, report_probabilities, thresholds.fake)
        intervals = metrics.bootstrap_intervals(
            report_labels, report_probabilities, thresholds.fake, groups, resamples, seed, confidence=0.95
        )
        chosen[strategy] = {
            "thresholds": thresholds,
            "fit_count": int(labels.size),
            "report": {
                **{key: value for key, value in measured.items() if value is not None},
                "no_score": sum(clip.probability(strategy) is None for clip in report_half),
            },
            "intervals": {
                name: [round(interval["low"], 4), round(interval["high"], 4)]
                for name, interval in intervals.items()
                if interval is not None
            },
            "decisions": decision_rates(report_labels, report_probabilities, poor, thresholds),
        }
    return chosen


# A strategy other than the analysis' own default decides videos only if it ranks the fit half's clips better in at
# least this share of paired bootstrap resamples of the fit half's people.
SWITCH_CONFIDENCE = 0.95


def best_strategy(
    fitted: dict[str, dict[str, Any]], clips: Sequence[ClipScores], default: str, seed: int = 0, resamples: int = 1000
) -> str:
    """The strategy a card recommends for videos and records its clip figures for, chosen on the *fit* half (never
    the report half, which would pick on the numbers it then reports): ``default`` (the analysis' own,
    ``AnalysisConfig.aggregation``) unless another ranks the fit half's clips above it (ROC AUC) in at least
    ``SWITCH_CONFIDENCE`` of ``resamples`` paired bootstrap resamples of its people; of several such, the one of the
    highest ROC AUC. Chosen by the point figure alone, the choice followed noise: on the default's 116 fit-half clips
    the three strategies' ROC AUCs differed by 0.001, and clips encoded again chose another (docs/EXPERIMENTS.md,
    2026-12-05)."""
    if default not in fitted:
        raise ValueError(f"the default strategy {default!r} was not fitted ({sorted(fitted)})")
    fit_half = [
        clip
        for clip in clips
        if in_fit_half(clip.group) and all(clip.decisive(strategy) is not None for strategy in fitted)
    ]
    labels = np.array([clip.label for clip in fit_half], np.int32)
    scores = {strategy: np.array([clip.decisive(strategy)[0] for clip in fit_half]) for strategy in fitted}
    members = metrics.group_members([clip.group for clip in fit_half])
    rng = np.random.default_rng(seed)
    wins = dict.fromkeys(fitted, 0)
    drawn = 0
    for _ in range(resamples):
        indices = metrics.resample_indices(members, labels.size, rng)
        if labels[indices].min() == labels[indices].max():
            continue
        drawn += 1
        aucs = {strategy: roc_auc_score(labels[indices], values[indices]) for strategy, values in scores.items()}
        for strategy, auc in aucs.items():
            wins[strategy] += auc > aucs[default]
    better = [strategy for strategy in fitted if drawn and wins[strategy] >= SWITCH_CONFIDENCE * drawn]
    if not better:
        return default
    return max(better, key=lambda strategy: roc_auc_score(labels, scores[strategy]))


def read_clips(labels_files: Sequence[Path]) -> datasets.CropSet:
    """The clips of one or more of the clip benchmark's label files (``file,label,group,...``; files relative to
    each CSV's folder), as one set whose files are relative to the folders' common parent."""
    if not labels_files:
        raise ValueError("no clip label files given")
    sets = [datasets.read_labels(Path(path), Path(path).parent) for path in labels_files]
    root = Path(os.path.commonpath([str(clips.root.resolve()) for clips in sets]))
    files, labels, groups = [], [], []
    for clips in sets:
        prefix = clips.root.resolve().relative_to(root)
        files += [str(prefix / name) for name in clips.files]
        labels.append(clips.labels)
        groups += list(clips.groups)
    return datasets.CropSet(root, tuple(files), np.concatenate(labels), tuple(groups))


def record(
    card: model_card.ModelCard,
    fitted: dict[str, dict[str, Any]],
    recommended: str,
    description: str,
    command: str,
    trained_on: TrainedOn,
    folder: Path | None = None,
) -> Path:
    """Writes the clip-fitted thresholds of every strategy into the card (``video_thresholds``), the report half's
    figures for the recommended strategy into its metrics (``clips``, ``clips_intervals``, ``clips_decisions``, as
    ``evaluate --record`` writes a level) and every strategy's in ``extra["video_thresholds_report_half"]``.

    ``trained_on`` says whether the model trained on the clips' kinds of fake (``trained_on_this_kind``,
    ``benchmark_clips.trained_methods``); its detail joins the description. ``card`` is the card the model was
    loaded with; if it changed on disk since, nothing is written."""
    current = model_card.read_card(card.name, folder)
    if current != card:
        raise DetectorError(f"the card of {card.name!r} changed while it was measured: nothing recorded")
    model_card.verified_weights(current, folder)
    if trained_on.detail:
        description = f"{description}; {trained_on.detail}"
    context = {
        "data": description,
        "unit": "videos",
        "measured_by": "python -m detector benchmark --clips",
        "command": command,
        model_card.TRAINED_ON_KIND: trained_on.card_text,
        "aggregation": recommended,
        "halves": FIT_HALF_WORDS,
        "quality": "a clip the quality check makes inconclusive keeps its score in the ROC AUC and counts as "
        "inconclusive (neither caught nor wrongly accused) in the decisions",
    }
    entry = fitted[recommended]
    metrics_update = {
        "clips": {**entry["report"], **context},
        "clips_intervals": {
            "method": "percentile bootstrap over the report half's people, 95%",
            "threshold": entry["thresholds"].fake,
            **entry["intervals"],
        },
        "clips_decisions": {**entry["decisions"], **context},
    }
    report_half = {
        strategy: {
            "roc_auc": item["report"].get("roc_auc"),
            "fake_threshold": item["thresholds"].fake,
            "uncertain_low": item["thresholds"].uncertain_low,
            "fakes_called_fake": caught(item["decisions"]),
            "reals_called_fake": item["decisions"]["false_positive_rate"],
            "inconclusive": item["decisions"]["uncertain_share"],
        }
        for strategy, item in fitted.items()
    }
    updated = dataclasses.replace(
        current,
        video_thresholds={strategy: item["thresholds"] for strategy, item in fitted.items()},
        metrics={**current.metrics, **metrics_update},
        extra={**current.extra, "video_thresholds_report_half": report_half},
    )
    return model_card.write_card(updated, folder)
