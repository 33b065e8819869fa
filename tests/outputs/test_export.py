import csv
import io
import json

from conftest import make_result

from detector.config import AnalysisConfig
from detector.outputs import export


def test_json_has_the_stable_keys_and_gaps():
    result = make_result({0: [0.9, None, 0.8, 0.7]})
    data = export.result_to_dict(result, file_name="upload.mp4", config=AnalysisConfig())
    json.dumps(data)  # serialisable
    assert data["file"] == "upload.mp4"
    assert data["verdict"] == "FAKE"
    assert data["fake_probability"] == 0.8
    assert [frame["index"] for frame in data["frames"]] == [0, 15, 30, 45]
    assert data["frames"][1]["faces"] == []
    face = data["frames"][0]["faces"][0]
    assert face["track"] == 0 and face["fake_probability"] == 0.9 and face["box"] == [100.0, 50.0, 80.0, 90.0]
    assert data["people"][0]["frames"] == 3
    assert data["config"]["frames_to_sample"] == 32


def test_json_probability_is_null_when_it_cannot_tell():
    data = export.result_to_dict(make_result({}))
    assert data["verdict"] == "UNCERTAIN"
    assert data["fake_probability"] is None


def test_csv_rows_per_face_and_empty_frames():
    result = make_result({0: [0.9, None], 1: [0.2, 0.3]})
    rows = list(csv.DictReader(io.StringIO(export.result_to_csv(result, "a.mp4"))))
    assert len(rows) == 3
    assert [(row["frame_index"], row["track"], row["fake_probability"]) for row in rows] == [
        ("0", "0", "0.900000"),
        ("0", "1", "0.200000"),
        ("15", "1", "0.300000"),
    ]


def test_exported_probabilities_stay_on_their_side_of_the_thresholds():
    """Cut to six decimals, never rounded up onto a threshold: 0.8659999 under 0.866 stays under it."""
    result = make_result({0: [0.8659999999, None], 1: [0.866, None]})
    data = export.result_to_dict(result)
    shown = [face["fake_probability"] for frame in data["frames"] for face in frame["faces"]]
    assert shown == [0.865999, 0.866]
    rows = list(csv.DictReader(io.StringIO(export.result_to_csv(result, "a.mp4"))))
    assert [row["fake_probability"] for row in rows if row["track"]] == ["0.865999", "0.866000"]
