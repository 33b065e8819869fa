"""Forward selection of an average's members, and the measure it reads."""

import numpy as np
import pytest

from detector.training import datasets
from scripts import select_members
from scripts.measure_member_spread import FFPP, UTKFACE_SELECTION


def test_adds_the_best_member_each_step_and_stops_when_the_gain_is_too_small():
    value = {("a",): 0.70, ("b",): 0.80, ("c",): 0.75, ("b", "a"): 0.85, ("b", "c"): 0.82}
    value.update({("b", "a", "c"): 0.851})
    steps = select_members.forward_select(["a", "b", "c"], lambda members: value[members], 5, 0.002)
    assert [step.added for step in steps] == ["b", "a"]
    assert steps[-1].members == ("b", "a")
    assert steps[-1].measure == pytest.approx(0.85)


def test_keeps_adding_while_it_gains_up_to_the_cap():
    steps = select_members.forward_select(list("abcdef"), lambda members: len(members) / 10, 3, 0.002)
    assert [step.members for step in steps] == [("a",), ("a", "b"), ("a", "b", "c")]
    with pytest.raises(ValueError, match="twice"):
        select_members.forward_select(["a", "a"], lambda members: 0.0, 3, 0.0)


def _scores(report_inverted: bool):
    """Two networks: ``good`` ranks every calibration half perfectly, ``bad`` inversely; on the report halves the
    reverse when ``report_inverted``."""
    groups = np.array([f"group{i}" for i in range(200)], dtype=object)
    in_half = np.array([datasets.in_calibration_half(group) for group in groups])
    labels = np.arange(200) % 2
    perfect = np.where(labels == 1, 0.9, 0.1)
    scores = {}
    for key in ("dfdc", *FFPP):
        scores[f"{key}|groups"], scores[f"{key}|labels"] = groups, labels
        good = np.where(in_half | (not report_inverted), perfect, 1 - perfect)
        scores[f"{key}|good"], scores[f"{key}|bad"] = good, 1 - good
    return scores


def test_the_measure_reads_only_the_calibration_halves():
    for report_inverted in (False, True):
        measure = select_members.calibration_half_measure(_scores(report_inverted))
        assert measure(("good",)) == pytest.approx(1.0)
        assert measure(("bad",)) == pytest.approx(0.0)


def test_with_people_the_measure_falls_as_unseen_people_score_like_fakes():
    scores = _scores(report_inverted=True)
    scores[f"{UTKFACE_SELECTION}|labels"] = np.zeros(50, int)
    scores[f"{UTKFACE_SELECTION}|bad"] = np.full(50, 0.95)  # above every fake ``bad`` gives (0.1 on the half)

    def measured(people_score: float) -> float:
        scores[f"{UTKFACE_SELECTION}|good"] = np.full(50, people_score)
        return select_members.calibration_half_measure(scores, people=True)(("good",))

    # ``good``'s calibration halves: reals 0.1, fakes 0.9; its report halves inverted are never read.
    assert select_members.calibration_half_measure(scores)(("good",)) == pytest.approx(1.0)
    assert measured(0.05) == pytest.approx(1.0)
    assert measured(0.5) == pytest.approx(1.0)  # above DFDC's reals does not count; only against its fakes
    assert measured(0.95) == pytest.approx(2 / 3)  # every unseen person above every fake
    assert select_members.calibration_half_measure(scores, people=True)(("bad",)) == pytest.approx(0.0)
