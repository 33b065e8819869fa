import pytest

from detector.config import AnalysisConfig


def test_defaults_are_valid_and_round_trip():
    config = AnalysisConfig()
    assert config.frames_to_sample == 32
    assert AnalysisConfig(**config.as_dict()) == config


@pytest.mark.parametrize(
    "changes",
    [
        {"sampling": "random"},
        {"frames_to_sample": 0},
        {"detector_model": "huge"},
        {"max_faces_per_frame": 0},
        {"min_face_confidence": 1.5},
        {"fake_threshold": 0.4, "uncertain_low": 0.6},
        {"min_face_size": -1},
    ],
)
def test_rejects_bad_values(changes):
    with pytest.raises(ValueError):
        AnalysisConfig(**changes)


def test_replace_validates():
    config = AnalysisConfig().replace(frames_to_sample=8)
    assert config.frames_to_sample == 8
    with pytest.raises(ValueError):
        config.replace(frames_to_sample=-3)
