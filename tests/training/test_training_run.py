import json
import subprocess

import pytest

from detector.outputs import model_facts
from detector.training import training_run
from detector.training.augment import AugmentationPolicy


def test_the_plateau_schedule_halves_after_each_stalled_epoch_and_stops_after_patience_in_a_row():
    # The validation losses of runs/resnet50_v1b, epochs 1-12, with the rates Keras logged for epochs 2-12.
    losses = [0.686, 1.118, 0.634, 0.775, 0.631, 0.677, 0.625, 0.580, 0.576, 0.573, 0.560, 0.562]
    logged = [1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4, 1.25e-4]
    rates = [training_run.plateau_schedule(losses[:n], 1e-3, patience=4)[0] for n in range(1, 12)]
    assert rates == pytest.approx(logged)
    assert training_run.plateau_schedule(losses, 1e-3, patience=4) == (pytest.approx(6.25e-5), False)
    assert training_run.plateau_schedule([], 1e-3, patience=4) == (1e-3, False)
    assert training_run.plateau_schedule([*losses, 0.57, 0.58, 0.56], 1e-3, patience=4)[1] is True
    assert training_run.plateau_schedule([*losses, 0.57, 0.58, 0.55], 1e-3, patience=4)[1] is False
    assert training_run.plateau_schedule([1.0] + [2.0] * 20, 1e-3, patience=99)[0] == 1e-5


def test_a_run_keeps_the_augmentation_it_started_with(tmp_path):
    fresh = training_run.run_policy(tmp_path, fresh=True)
    assert fresh == AugmentationPolicy()
    (tmp_path / training_run.POLICY_FILE).write_text(
        json.dumps({**json.loads((tmp_path / training_run.POLICY_FILE).read_text()), "jpeg": 0.9})
    )
    assert training_run.run_policy(tmp_path, fresh=False).jpeg == 0.9
    assert training_run.run_policy(tmp_path, fresh=True).jpeg == AugmentationPolicy().jpeg


def test_a_fresh_run_records_the_augmentation_asked_for_and_a_resume_refuses_another(tmp_path):
    asked = AugmentationPolicy(h264=0.0)
    assert training_run.run_policy(tmp_path, fresh=True, requested=asked) == asked
    assert training_run.run_policy(tmp_path, fresh=False) == asked
    assert training_run.run_policy(tmp_path, fresh=False, requested=asked) == asked
    with pytest.raises(ValueError, match="started with augmentation"):
        training_run.run_policy(tmp_path, fresh=False, requested=AugmentationPolicy())


def test_a_run_from_before_policies_were_recorded_gets_the_default(tmp_path):
    assert training_run.run_policy(tmp_path, fresh=False) == AugmentationPolicy()
    assert (tmp_path / training_run.POLICY_FILE).is_file()


def test_each_invocation_of_a_run_is_recorded_with_the_code_that_ran_it(tmp_path):
    command = "python -m detector train --name x"
    run = tmp_path
    first = training_run.record_session(run, command, 0, "start")
    second = training_run.record_session(run, command, 3, "resume")
    assert [entry["action"] for entry in second] == ["start", "resume"] and second[0] == first[0]
    assert second[1]["after_epoch"] == 3 and second[1]["command"] == "python -m detector train --name x"
    version = training_run.code_version()
    # This test runs inside the project's git checkout (CI clones it); the commit is the checkout's HEAD.
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    assert version["commit"] == (head or None)
    assert second[1]["commit"] == version["commit"]
    assert model_facts.training_lines({"sessions": second}) == []  # for whoever reproduces it, not the page


def test_the_rate_can_wait_several_stalled_epochs_before_halving():
    losses = [0.7, 0.8, 0.75, 0.72, 0.6, 0.65, 0.66, 0.67]
    # Stalls: 3 in a row (halve once at the 3rd), then improvement, then 3 more (halve again).
    assert training_run.plateau_schedule(losses, 1e-3, patience=9, rate_patience=3) == (pytest.approx(2.5e-4), False)
    assert training_run.plateau_schedule(losses[:3], 1e-3, patience=9, rate_patience=3)[0] == 1e-3
    assert training_run.plateau_schedule(losses, 1e-3, patience=3, rate_patience=3)[1] is True
    with pytest.raises(ValueError, match="rate_patience"):
        training_run.plateau_schedule(losses, 1e-3, patience=3, rate_patience=0)


def test_selection_scores_read_the_loss_as_it_is_and_the_roc_auc_turned_so_lower_is_better(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,auc,loss,val_auc,val_loss\n0,0.6,0.7,0.61,0.69\n1,0.7,0.6,0.66,0.71\n2,0.8,0.5\n")
    # The last row was cut short by a stop mid-write: it has no validation figures and does not count.
    assert training_run.selection_scores(log) == [0.69, 0.71]
    assert training_run.selection_scores(log, "auc") == [-0.61, -0.66]
    assert training_run.completed_epochs(log) == 2
    assert training_run.selection_scores(tmp_path / "missing.csv", "auc") == []
    # By the loss the second epoch stalled and halves the rate; by the ROC AUC it improved.
    assert training_run.plateau_schedule(training_run.selection_scores(log), 1e-3, patience=5)[0] == 5e-4
    assert training_run.plateau_schedule(training_run.selection_scores(log, "auc"), 1e-3, patience=5)[0] == 1e-3


@pytest.mark.parametrize(
    ("keep", "chosen", "other", "refusal", "before_the_choice"),
    [
        (training_run.run_select_on, "self_blends", "dfdc", "--select-on self-blends", "dfdc"),
        (training_run.run_select_by, "auc", "loss", "--select-by auc", "loss"),
        (training_run.run_mix, "dfdc_first", "even", "--mix dfdc-first", "even"),
    ],
)
def test_a_run_keeps_each_choice_it_started_with(tmp_path, keep, chosen, other, refusal, before_the_choice):
    assert keep(tmp_path, fresh=True, requested=chosen) == chosen
    assert keep(tmp_path, fresh=False) == chosen
    assert keep(tmp_path, fresh=False, requested=chosen) == chosen
    with pytest.raises(ValueError, match=refusal):
        keep(tmp_path, fresh=False, requested=other)
    # A run from before the choice was recorded took what was done then.
    assert keep(tmp_path / "older", fresh=False) == before_the_choice


def test_the_card_says_how_the_epoch_was_chosen():
    assert training_run.selection_words("mixed", "auc").startswith("the highest validation ROC AUC on the DFDC and")
    assert training_run.selection_words(None, None) == "the lowest validation loss on the DFDC validation crops " + (
        "(real and fake)"
    )


def test_a_run_recorded_before_reframing_and_casts_existed_resumes_without_them(tmp_path):
    recorded = {"flip": 0.5, "color": 0.5, "blur": 0.15, "rescale": 0.2, "jpeg": 0.3, "h264": 0.15}
    (tmp_path / training_run.POLICY_FILE).write_text(json.dumps(recorded))
    assert training_run.run_policy(tmp_path, fresh=False) == AugmentationPolicy(reframe=0.0, cast=0.0)
