import numpy as np
import pytest

from detector.types import FaceBox, FaceCrop, FaceScore, SampledFrame, Verdict, VerdictLabel, VideoInfo


def test_face_box_geometry():
    box = FaceBox(10, 20, 30, 40, 0.9)
    assert box.center == (25, 40)
    assert box.size == 40
    assert box.iou(box) == pytest.approx(1.0)
    assert box.iou(FaceBox(100, 100, 5, 5, 0.9)) == 0.0
    assert FaceBox(0, 0, 10, 10, 0.5).iou(FaceBox(5, 0, 10, 10, 0.5)) == pytest.approx(50 / 150)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FaceBox(0, 0, 0, 10, 0.5),
        lambda: FaceBox(0, 0, 10, 10, 1.5),
        lambda: SampledFrame(0, 0.0, np.zeros((4, 4), np.uint8)),
        lambda: SampledFrame(0, 0.0, np.zeros((4, 4, 3), np.float32)),
        lambda: SampledFrame(-1, 0.0, np.zeros((4, 4, 3), np.uint8)),
        lambda: FaceCrop(0, 0.0, FaceBox(0, 0, 1, 1, 0.5), np.zeros((4, 5, 3), np.uint8)),
        lambda: FaceScore(0, 0.0, FaceBox(0, 0, 1, 1, 0.5), 0, float("nan")),
        lambda: Verdict(VerdictLabel.FAKE, None, "x", "mean", 0.5),
        lambda: VideoInfo("a", 1, 0, 10, 30.0, 10, 1.0),
        lambda: VideoInfo("a", 1, 10, 10, 30.0, 10, 1.0, rotation_degrees=45),
    ],
)
def test_contracts_reject_invalid_values(make):
    with pytest.raises(ValueError):
        make()


def test_plain_words():
    assert VerdictLabel.FAKE.plain_words == "Likely manipulated"
    assert VerdictLabel.UNCERTAIN.plain_words == "Inconclusive"
