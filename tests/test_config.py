import pytest

from detector.config import AnalysisConfig


def test_defaults_are_valid_and_round_trip():
    config = AnalysisConfig()
    assert config.frame_count == 32
    assert AnalysisConfig(**config.as_dict()) == config


@pytest.mark.parametrize(
    "changes",
    [
        {"sampling": "random"},
        {"frame_count": 0},
        {"detector_model": "huge"},
        {"face_margin": 0.9},
        {"min_face_confidence": 1.5},
        {"fake_threshold": 0.4, "uncertain_low": 0.6},
        {"min_face_size": -1},
    ],
)
def test_rejects_bad_values(changes):
    with pytest.raises(ValueError):
        AnalysisConfig(**changes)


def test_replace_validates():
    config = AnalysisConfig().replace(frame_count=8)
    assert config.frame_count == 8
    with pytest.raises(ValueError):
        config.replace(frame_count=-3)
