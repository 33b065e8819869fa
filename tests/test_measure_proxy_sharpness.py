"""The proxy sharpness diagnostic's ratio and pairing."""

import cv2
import numpy as np

from detector.training import datasets
from scripts import measure_proxy_sharpness


def _textured(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (128, 128)).astype(np.float32)


def test_a_blurred_region_is_smoother_and_a_sharpened_one_is_not():
    real = _textured()
    blurred = real.copy()
    blurred[40:90, 40:90] = cv2.GaussianBlur(real, (5, 5), 1.5)[40:90, 40:90]
    assert measure_proxy_sharpness.sharpness_ratio(real, blurred) < 0.7
    noisier = real.copy()
    noisier[40:90, 40:90] += np.random.default_rng(1).normal(0, 40, (50, 50)).astype(np.float32)
    assert measure_proxy_sharpness.sharpness_ratio(real, noisier) > 1.0


def test_pairs_with_too_little_change_are_left_out():
    real = _textured()
    nearly = real.copy()
    nearly[:5, :5] += 20
    assert measure_proxy_sharpness.sharpness_ratio(real, nearly) is None
    assert measure_proxy_sharpness.sharpness_ratio(real, real) is None


def test_a_proxy_is_paired_with_its_own_real_only(tmp_path):
    crops = datasets.CropSet(
        root=tmp_path,
        files=("a.real.jpg", "a.reenact-mouth.jpg", "b.reenact-lower_face.jpg", "c.real.jpg"),
        labels=np.array([0, 1, 1, 0], np.int32),
        groups=("a", "a", "b", "c"),
    )
    assert measure_proxy_sharpness.pairs(crops) == [(tmp_path / "a.real.jpg", tmp_path / "a.reenact-mouth.jpg")]


def test_the_summary_counts_smoother_proxies():
    line = measure_proxy_sharpness.summary([0.5, 0.9, 1.1, 1.3])
    assert line.startswith("4 pairs") and "smoother than their real 50.0%" in line
