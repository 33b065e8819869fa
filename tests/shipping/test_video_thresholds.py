"""Video thresholds fitted on clips: halves, a clip's score, the fit and its report, and the card."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from detector.analysis.scoring import load_scorer
from detector.errors import DetectorError
from detector.evaluation.benchmark_clips import TrainedOn
from detector.models import model_card
from detector.shipping import video_thresholds
from detector.shipping.video_thresholds import ClipScores


def test_the_halves_are_stable_and_about_half():
    groups = [f"person-{index}" for index in range(400)]
    first = [video_thresholds.in_fit_half(group) for group in groups]
    assert first == [video_thresholds.in_fit_half(group) for group in groups]
    assert 0.4 < np.mean(first) < 0.6


def test_a_clip_scores_as_its_most_suspicious_person_with_enough_frames():
    clip = ClipScores(
        "a.mp4", 1, "g", (np.array([0.1, 0.2, 0.1]), np.array([0.9, 0.8]), np.array([0.99])), (False, True, False), 2
    )
    assert clip.probability("mean") == pytest.approx(0.85)  # the single-frame person is not judged
    assert clip.inconclusive_by_quality("mean")  # and the person who decides was too poor to judge
    assert ClipScores("b.mp4", 0, "g", (), (), 1).probability("mean") is None


def _clips(count: int, seed: int = 0, poor_share: float = 0.0) -> list[ClipScores]:
    """Real clips scoring low and fake ones high, with noise; two clips (one real, one fake) per person."""
    rng = np.random.default_rng(seed)
    clips = []
    for person in range(count):
        for label in (0, 1):
            # Each clip its own offset, as people and encodings differ: the classes overlap.
            frames = np.clip(rng.normal(0.3 + 0.3 * label + rng.normal(0, 0.12), 0.15, 12), 0, 1)
            poor = bool(rng.random() < poor_share)
            clips.append(ClipScores(f"{person}-{label}.mp4", label, f"person-{person}", (frames,), (poor,), 5))
    return clips


def test_thresholds_are_fitted_on_one_half_and_measured_on_the_other():
    clips = _clips(120)
    fitted = video_thresholds.fit(clips, strategies=("mean", "median"), resamples=100)
    assert set(fitted) == {"mean", "median"}
    for entry in fitted.values():
        thresholds, report, decisions = entry["thresholds"], entry["report"], entry["decisions"]
        assert 0 < thresholds.uncertain_low <= thresholds.fake < 1
        assert thresholds.chosen_on.startswith("clips:")
        assert 0.8 < report["roc_auc"] < 1 and entry["intervals"]["roc_auc"][0] < report["roc_auc"]
        assert report["count"] + entry["fit_count"] == len(clips)
        assert decisions["false_positive_rate"] < 0.2 and video_thresholds.caught(decisions) > 0.3
    # Both strategies rank these clips alike: the default stays, whichever it is.
    assert video_thresholds.best_strategy(fitted, clips, "mean", resamples=200) == "mean"
    assert video_thresholds.best_strategy(fitted, clips, "median", resamples=200) == "median"
    with pytest.raises(ValueError, match="was not fitted"):
        video_thresholds.best_strategy(fitted, clips, "confident")


def test_another_strategy_is_recommended_only_when_it_ranks_the_fit_half_better_beyond_noise():
    # Every clip's frames mostly alike; a fake's few frames far higher: a median ignores them, a mean does not.
    rng = np.random.default_rng(1)
    clips = []
    for person in range(120):
        for label in (0, 1):
            frames = rng.normal(0.3, 0.05, 12)
            frames[:3] += 0.5 * label + rng.normal(0, 0.05, 3)
            frames = np.clip(frames, 0, 1)
            clips.append(ClipScores(f"{person}-{label}.mp4", label, f"person-{person}", (frames,), (False,), 5))
    fitted = video_thresholds.fit(clips, strategies=("mean", "median"), resamples=50)
    assert video_thresholds.best_strategy(fitted, clips, "median", resamples=200) == "mean"
    assert video_thresholds.best_strategy(fitted, clips, "mean", resamples=200) == "mean"


def test_a_clip_made_inconclusive_by_quality_is_neither_caught_nor_wrongly_accused():
    clean = video_thresholds.fit(_clips(120), strategies=("mean",), resamples=50)["mean"]
    poor = video_thresholds.fit(_clips(120, poor_share=0.5), strategies=("mean",), resamples=50)["mean"]
    assert poor["report"]["roc_auc"] == pytest.approx(clean["report"]["roc_auc"])  # their scores still rank
    assert poor["thresholds"] == clean["thresholds"]  # the same scores fit the same thresholds
    clean, poor = clean["decisions"], poor["decisions"]
    assert poor["uncertain_by_quality"] > 0.3 and clean["uncertain_by_quality"] == 0
    assert video_thresholds.caught(poor) < video_thresholds.caught(clean)
    assert poor["false_positive_rate"] <= clean["false_positive_rate"]
    assert poor["uncertain_share"] > clean["uncertain_share"]


def test_too_few_clips_to_fit_are_refused():
    with pytest.raises(DetectorError, match="too few clips"):
        video_thresholds.fit(_clips(6), strategies=("mean",))


def test_recorded_thresholds_decide_videos_and_crops_keep_their_own(tmp_path, tiny_models_folder):
    folder = tmp_path / "models"
    shutil.copytree(tiny_models_folder, folder)
    card = model_card.read_card("tiny", folder)
    clips = _clips(120)
    fitted = video_thresholds.fit(clips, strategies=("mean", "confident"), resamples=50)
    detail = "3 of the 60 fake clips (3 self blend) were made the way some of its training fakes were"
    trained = TrainedOn("partly", detail)
    video_thresholds.record(card, fitted, "mean", "drawn scores", "python -m detector benchmark ...", trained, folder)
    saved = json.loads((folder / "tiny.json").read_text())
    assert saved["metrics"]["clips"]["trained_on_this_kind"] == f"partly: {trained.detail}"
    assert saved["metrics"]["clips"]["data"] == (
        "drawn scores; 3 of the 60 fake clips (3 self blend) were made the way some of its training fakes were"
    )
    assert set(saved["video_thresholds"]) == {"mean", "confident"}
    assert saved["metrics"]["clips"]["aggregation"] == "mean"
    assert saved["metrics"]["clips_decisions"]["fake_threshold"] == fitted["mean"]["thresholds"].fake
    assert set(saved["extra"]["video_thresholds_report_half"]) == {"mean", "confident"}
    reread = model_card.read_card("tiny", folder)
    assert reread.thresholds == card.thresholds  # the crops' are untouched
    assert reread.thresholds_for_videos("mean") == fitted["mean"]["thresholds"]
    assert reread.thresholds_for_videos("median") == card.thresholds  # not fitted: the crops'
    scorer = load_scorer(["tiny"], folder)
    assert scorer.thresholds_for_videos("confident") == fitted["confident"]["thresholds"]
    with pytest.raises(DetectorError, match="changed"):
        # The card on disk moved on.
        video_thresholds.record(card, fitted, "mean", "again", "cmd", TrainedOn("no"), folder)


def test_several_clip_label_files_read_as_one_set(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "labels.csv").write_text(
            f"file,label,group\n{folder}1.mp4,REAL,{folder}\n{folder}2.mp4,FAKE,{folder}\n"
        )
    clips = video_thresholds.read_clips([tmp_path / "a" / "labels.csv", tmp_path / "b" / "labels.csv"])
    assert clips.root == tmp_path.resolve()
    assert clips.files == ("a/a1.mp4", "a/a2.mp4", "b/b1.mp4", "b/b2.mp4")
    assert list(clips.labels) == [0, 1, 0, 1] and clips.groups == ("a", "a", "b", "b")
    with pytest.raises(ValueError, match="no clip"):
        video_thresholds.read_clips([])


def test_thresholds_keep_to_the_error_budgets_and_leave_the_rest_inconclusive():
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 200)
    # Heavily overlapping classes: no side reaches 90% precision, and the crops' rule would fall back to one
    # equal-error threshold with no band.
    scores = np.clip(np.concatenate([rng.normal(0.45, 0.15, 200), rng.normal(0.55, 0.15, 200)]), 0, 1)
    chosen = video_thresholds.choose_video_thresholds(labels, scores, "mean")
    reals, fakes = scores[labels == 0], scores[labels == 1]
    assert np.mean(reals >= chosen.fake) <= video_thresholds.MAX_REALS_CALLED_FAKE
    assert np.mean(fakes < chosen.uncertain_low) <= video_thresholds.MAX_FAKES_CALLED_REAL
    assert chosen.fake - chosen.uncertain_low > 0.2  # a wide band: the model cannot back many calls
    # Just below either threshold the budget would be broken: they are the tightest the budgets allow.
    assert np.mean(reals >= chosen.fake - 1e-3) > video_thresholds.MAX_REALS_CALLED_FAKE - 0.01
    separable = np.concatenate([rng.uniform(0.0, 0.3, 200), rng.uniform(0.7, 1.0, 200)])
    easy = video_thresholds.choose_video_thresholds(labels, separable, "mean")
    assert easy.uncertain_low <= easy.fake <= separable[labels == 1].min() + 1e-4  # every fake caught
    assert np.mean(separable[labels == 0] >= easy.fake) == 0


def test_analysed_clips_are_kept_and_read_back_exactly(tmp_path):
    clips = _clips(5)
    path = tmp_path / "scores.json"
    video_thresholds.save_scores(path, clips)
    again = video_thresholds.load_scores(path)
    assert [clip.file for clip in again] == [clip.file for clip in clips]
    for first, second in zip(clips, again, strict=True):
        assert first.probability("mean") == second.probability("mean")
        assert (first.label, first.group, first.poor_quality, first.min_frames) == (
            second.label,
            second.group,
            second.poor_quality,
            second.min_frames,
        )
