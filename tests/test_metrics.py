import numpy as np
import pytest

from detector.metrics import classification_metrics


def test_perfect_and_known_values():
    measured = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert measured["roc_auc"] == pytest.approx(0.75)
    assert measured["accuracy"] == pytest.approx(0.75)
    assert measured["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    assert (measured["count"], measured["count_fake"], measured["count_real"]) == (4, 2, 2)


def test_single_class_has_no_auc():
    assert classification_metrics(np.array([1, 1]), np.array([0.7, 0.9]))["roc_auc"] is None


@pytest.mark.parametrize(("labels", "probabilities"), [([], []), ([0, 1], [0.5]), ([0, 1], [0.2, 1.2])])
def test_rejects_bad_input(labels, probabilities):
    with pytest.raises(ValueError):
        classification_metrics(np.array(labels), np.array(probabilities))
