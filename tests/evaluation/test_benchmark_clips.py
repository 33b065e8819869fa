"""``detector.evaluation.benchmark_clips``: real and fake clips of held-out people, written, labelled, decodable,
paired, found by the face detector, split in stable halves; bad arguments refused before any work."""

from __future__ import annotations

import csv
import hashlib
import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from detector.analysis import video
from detector.analysis.faces import FaceDetector
from detector.errors import DatasetError
from detector.evaluation import benchmark_clips, filming
from detector.shipping import video_thresholds
from detector.training import datasets, sources

SHARED = datasets.shared_folder()
requires_utkface = pytest.mark.skipif(
    not (SHARED / "data" / "utkface" / "faces").is_dir(), reason=f"UTKFace photos not found under {SHARED}"
)
requires_dfdc = pytest.mark.skipif(
    not (SHARED / "data" / "dfdc-faces" / "labels.csv").is_file(), reason=f"DFDC face crops not found under {SHARED}"
)
SECONDS = 0.6
FRAMES = 15


def decode(path: Path) -> tuple[list[np.ndarray], str, str]:
    """Every frame ``(H, W, 3) uint8 RGB`` of a clip, its codec's name and pixel format."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, stream.codec_context.name, stream.codec_context.pix_fmt


def pairs_by_group(rows: list[benchmark_clips.ClipRow]) -> dict[str, dict[str, benchmark_clips.ClipRow]]:
    pairs: dict[str, dict[str, benchmark_clips.ClipRow]] = {}
    for row in rows:
        assert row.label not in pairs.setdefault(row.group, {}), f"two {row.label} clips of {row.group}"
        pairs[row.group][row.label] = row
    return pairs


def box_masks(face, shape: tuple[int, ...], far: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels inside the face box, and pixels further than ``far`` box sizes from its centre."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
    centre_x, centre_y = face.center
    inside = (np.abs(columns - centre_x) < face.width / 2) & (np.abs(rows - centre_y) < face.height / 2)
    outside = np.maximum(np.abs(columns - centre_x), np.abs(rows - centre_y)) > far * face.size
    return inside, outside


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    with FaceDetector(datasets.CROP_FACE_DETECTOR) as face_detector:
        yield face_detector


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("clips")
    counts = benchmark_clips.write_clips(
        out,
        count=4,
        seed=0,
        cache_folder=out / "cache",
        crfs=(23, 38),
        methods=("face_swap", "self_blend"),
        seconds=SECONDS,
    )
    return out, counts


@requires_utkface
def test_the_set_has_a_real_and_a_fake_clip_of_each_person_at_each_requested_crf(small_set):
    out, counts = small_set
    assert counts == {
        "clips": 4,
        "real": 2,
        "fake": 2,
        "fake_face_swap": 1,
        "fake_self_blend": 1,
        "crf_23": 2,
        "crf_38": 2,
        "fit_half": counts["fit_half"],
        "report_half": 4 - counts["fit_half"],
        "untrusted_mesh": counts["untrusted_mesh"],
        "manipulation_failed": 0,
    }
    with open(out / "labels.csv", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == benchmark_clips.COLUMNS
    rows = benchmark_clips.read_rows(out / "labels.csv")
    assert len(rows) == 4
    held_out = set(datasets.split_utkface(datasets.load_utkface())[1].groups)
    for group, pair in pairs_by_group(rows).items():
        assert group in held_out
        real, fake = pair["REAL"], pair["FAKE"]
        assert real.crf == fake.crf and real.method == "none" and fake.method in ("face_swap", "self_blend")
        assert real.people == fake.people == "utkface"
    assert sorted(row.crf for row in rows) == [23, 23, 38, 38]
    fit = benchmark_clips.read_rows(out / "labels-fit.csv")
    report = benchmark_clips.read_rows(out / "labels-report.csv")
    assert sorted(fit + report, key=rows.index) == rows
    # The evaluation reads the same file as file,label rows with paths relative to its folder.
    videos = datasets.read_labels(out / "labels.csv", out)
    assert all((videos.root / name).is_file() for name in videos.files)
    assert list(videos.labels) == [int(row.label == "FAKE") for row in rows]


@requires_utkface
def test_every_clip_decodes_as_h264_with_the_expected_frames_and_size(small_set):
    out, _ = small_set
    for pair in pairs_by_group(benchmark_clips.read_rows(out / "labels.csv")).values():
        shapes = set()
        for row in pair.values():
            frames, codec, pixel_format = decode(out / row.file)
            assert (codec, pixel_format, len(frames)) == ("h264", "yuv420p", FRAMES)
            assert (frames[0].shape[1], frames[0].shape[0]) in filming.FRAME_SIZES
            shapes.add(frames[0].shape)
            # A filmed still: the camera has moved by the last frame, a little at a time.
            steps = [
                np.abs(after.astype(int) - before.astype(int)).mean() for before, after in itertools.pairwise(frames)
            ]
            assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1.0
            assert max(steps) < 12
        assert len(shapes) == 1


@requires_utkface
def test_a_real_and_its_fake_differ_in_the_face_and_not_far_from_it(small_set, detector):
    out, _ = small_set
    for pair in pairs_by_group(benchmark_clips.read_rows(out / "labels.csv")).values():
        real = decode(out / pair["REAL"].file)[0][0].astype(int)
        fake = decode(out / pair["FAKE"].file)[0][0].astype(int)
        faces = detector.detect(real.astype(np.uint8))
        assert len(faces) == 1, "the background must hold no second face"
        inside, far = box_masks(faces[0], real.shape, far=1.5)
        difference = np.abs(real - fake).mean(axis=2)
        # Far from the face the frames were identical before encoding; at CRF 38 the encoder's rate control gives
        # the whole frame another quantizer when the face changes, so the pixels there differ by a little.
        tolerance = 0.3 if pair["FAKE"].crf <= 28 else 3.0
        assert difference[far].mean() < tolerance
        assert difference[inside].mean() > 3 * difference[far].mean() + 0.5
        if pair["FAKE"].method == "face_swap":
            assert difference[inside].mean() > 5


@requires_utkface
def test_the_face_detector_finds_one_face_of_video_size_in_every_sampled_frame(small_set, detector):
    out, _ = small_set
    for row in benchmark_clips.read_rows(out / "labels.csv"):
        frames = decode(out / row.file)[0]
        for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
            faces = detector.detect(frame)
            assert len(faces) == 1, row.file
            assert 100 < faces[0].size < 280 and faces[0].confidence > 0.7


@requires_utkface
def test_a_reenacted_clip_changes_the_lower_face_more_than_the_upper(tmp_path, detector):
    counts = benchmark_clips.write_clips(
        tmp_path, count=2, seed=3, cache_folder=tmp_path / "cache", crfs=(23,), methods=("reenactment",), seconds=0.2
    )
    assert counts["fake_reenactment"] == 1
    real_row, fake_row = benchmark_clips.read_rows(tmp_path / "labels.csv")
    assert fake_row.method == "reenactment"
    real = decode(tmp_path / real_row.file)[0][0]
    fake = decode(tmp_path / fake_row.file)[0][0]
    face = detector.detect(real)[0]
    inside, _ = box_masks(face, real.shape, far=1.5)
    difference = np.abs(real.astype(int) - fake.astype(int)).mean(axis=2)
    rows = np.arange(real.shape[0])[:, None]
    upper = inside & (rows < face.center[1] - face.height / 8)
    lower = inside & (rows > face.center[1] + face.height / 8)
    assert difference[lower].mean() > 2 * difference[upper].mean() + 0.5


@requires_utkface
def test_the_same_seed_writes_the_same_set(tmp_path, monkeypatch):
    # The frames handed to the encoder are the claim: the same seed films the same frames. The encoder runs on one
    # thread (``write_h264(deterministic=True)``), which gave the same bytes in repeated runs on their own, but one
    # full clean-clone run still saw a byte differ; so the decoded clips are compared within encoder noise.
    filmed: dict[str, list[str]] = {}
    write = video.write_h264

    def recording(frames, path, *args, **kwargs):
        frames = list(frames)
        filmed.setdefault(Path(path).name, []).append(hashlib.sha1(np.stack(frames).tobytes()).hexdigest())
        return write(frames, path, *args, **kwargs)

    monkeypatch.setattr(benchmark_clips.video, "write_h264", recording)
    arguments = {"count": 2, "seed": 5, "cache_folder": tmp_path / "cache", "crfs": (28,), "seconds": 0.2}
    first = benchmark_clips.write_clips(tmp_path / "first", methods=("self_blend",), **arguments)
    second = benchmark_clips.write_clips(tmp_path / "second", methods=("self_blend",), **arguments)
    assert first == second
    rows = benchmark_clips.read_rows(tmp_path / "first" / "labels.csv")
    assert rows == benchmark_clips.read_rows(tmp_path / "second" / "labels.csv")
    assert len(filmed) == len(rows) and all(len(set(hashes)) == 1 and len(hashes) == 2 for hashes in filmed.values())
    for row in rows:
        first_frames, second_frames = (
            decode(tmp_path / "first" / row.file)[0],
            decode(tmp_path / "second" / row.file)[0],
        )
        assert len(first_frames) == len(second_frames) == 5
        for one, other in zip(first_frames, second_frames, strict=True):
            assert np.abs(one.astype(int) - other.astype(int)).mean() < 1.0


@requires_dfdc
def test_dfdc_clips_are_of_validation_reals_and_swap_in_another_groups_face(tmp_path):
    counts = benchmark_clips.write_clips(
        tmp_path,
        people="dfdc",
        count=2,
        cache_folder=tmp_path / "cache",
        crfs=(28,),
        methods=("face_swap",),
        seconds=0.2,
    )
    assert counts["clips"] == 2 and counts["fake_face_swap"] == 1
    crops = benchmark_clips.people_set("dfdc")
    real_groups = set(crops.groups)
    assert all(
        row.group in real_groups and row.people == "dfdc" for row in benchmark_clips.read_rows(tmp_path / "labels.csv")
    )
    rng = np.random.default_rng(0)
    for target in range(0, len(crops), 97):
        assert crops.groups[benchmark_clips.choose_source(target, crops, rng)] != crops.groups[target]


def test_swapped_faces_are_of_the_same_kind_where_there_is_one():
    names = ("30_0_1_a.jpg", "35_0_1_b.jpg", "80_0_1_c.jpg", "32_1_1_d.jpg", "31_0_2_e.jpg", "noname.jpg")
    crops = datasets.CropSet(Path("."), names, np.zeros(len(names), np.int32), names)
    rng = np.random.default_rng(0)
    assert {benchmark_clips.choose_source(0, crops, rng) for _ in range(20)} == {1}
    # The 80-year-old has no one within ten years: another man of the same ethnicity, then.
    assert {benchmark_clips.choose_source(2, crops, rng) for _ in range(40)} == {0, 1}
    # The only woman: anyone else.
    assert {benchmark_clips.choose_source(3, crops, rng) for _ in range(60)} == {0, 1, 2, 4, 5}
    assert {benchmark_clips.choose_source(5, crops, rng) for _ in range(60)} == {0, 1, 2, 3, 4}
    alone = datasets.CropSet(Path("."), names[:1], np.zeros(1, np.int32), names[:1])
    with pytest.raises(ValueError, match="another group"):
        benchmark_clips.choose_source(0, alone, rng)


@pytest.mark.parametrize(
    ("crfs", "methods"),
    [
        ((23, 28, 38), benchmark_clips.METHODS),
        ((23, 38), ("face_swap", "self_blend")),
        ((28,), ("self_blend",)),
        ((23, 38), benchmark_clips.METHODS),
        ((23, 28, 38), ("face_swap", "reenactment")),
    ],
)
def test_the_plan_has_every_crf_and_method_pair_once_per_cycle(crfs, methods):
    cycle = len(crfs) * len(methods)
    for start in (0, cycle, 5 * cycle):
        planned = [benchmark_clips.plan(index, crfs, methods) for index in range(start, start + cycle)]
        assert sorted(planned) == sorted((crf, method) for crf in crfs for method in methods)
    # Any run of len(crfs) pairs has every CRF once: real and fake clips balance at each CRF.
    for start in range(0, 3 * cycle, len(crfs)):
        assert sorted(
            benchmark_clips.plan(index, crfs, methods)[0] for index in range(start, start + len(crfs))
        ) == sorted(crfs)


def row(group: str, label: str = "REAL", method: str = "face_swap") -> benchmark_clips.ClipRow:
    method = "none" if label == "REAL" else method
    return benchmark_clips.ClipRow(f"{group}.{method}.mp4", label, group, method, 28, "utkface")


def test_split_halves_keeps_each_person_on_one_side_and_is_stable():
    # Names like the held-out UTKFace photos: all chosen by the unsalted SHA-1 of the name (below 25 of 100).
    groups = [
        name for name in (f"{index}_0_0_photo.jpg" for index in range(2000)) if datasets.is_validation_group(name, 25)
    ]
    rows = [row(group, label) for group in groups for label in ("REAL", "FAKE")]
    fit, report = benchmark_clips.split_halves(rows)
    assert len(fit) + len(report) == len(rows)
    fit_groups = {entry.group for entry in fit}
    assert not fit_groups & {entry.group for entry in report}
    assert 0.4 < len(report) / len(rows) < 0.6
    # The same in any order and on any computer: a shuffled list splits the same, and fixed names fall fixed ways.
    shuffled = [rows[index] for index in np.random.default_rng(0).permutation(len(rows))]
    assert {entry.file for entry in benchmark_clips.split_halves(shuffled)[1]} == {entry.file for entry in report}
    assert [benchmark_clips.in_report_half(name) for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")] == [
        False,
        True,
        False,
        True,
    ]
    # The halves are those the video thresholds are fitted and reported on.
    assert all(video_thresholds.in_fit_half(group) == (group in fit_groups) for group in groups)


def test_rows_refuse_bad_values_and_survive_a_round_trip(tmp_path):
    rows = [row("a.jpg"), row("a.jpg", "FAKE")]
    benchmark_clips.write_labels(tmp_path / "labels.csv", rows)
    assert benchmark_clips.read_rows(tmp_path / "labels.csv") == rows
    for changes in ({"label": "MAYBE"}, {"method": "face_swap"}, {"crf": 52}, {"group": ""}):
        with pytest.raises(ValueError):
            benchmark_clips.ClipRow(**{**rows[0].__dict__, **changes})
    (tmp_path / "bad.csv").write_text("file,label\na.mp4,REAL\n")
    with pytest.raises(DatasetError, match="needs the columns"):
        benchmark_clips.read_rows(tmp_path / "bad.csv")
    # A set written before the per-set seen_in_training column was dropped reads the same.
    older = "file,label,group,method,crf,people,seen_in_training\na.jpg.none.mp4,REAL,a.jpg,none,28,utkface,no\n"
    (tmp_path / "older.csv").write_text(older)
    assert benchmark_clips.read_rows(tmp_path / "older.csv") == rows[:1]


def test_which_fake_clips_a_model_trained_on_is_said_for_that_model():
    rows = [
        row(group, label, method)
        for group, method in (("a", "self_blend"), ("b", "face_swap"), ("c", "self_blend"))
        for label in ("REAL", "FAKE")
    ]
    assert benchmark_clips.trained_methods(rows, frozenset()).card_text == "no"
    assert benchmark_clips.trained_methods(rows, frozenset({sources.FFPP_FAKES})) == benchmark_clips.TrainedOn("no")
    partly = benchmark_clips.trained_methods(rows, frozenset({sources.SELF_BLEND}))
    assert partly.answer == "partly"
    assert partly.card_text == (
        "partly: 2 of the 3 fake clips (2 self blend) were made the way some of its training fakes were"
    )
    both = frozenset({sources.SELF_BLEND, sources.FACE_SWAP})
    assert benchmark_clips.trained_methods(rows, both).card_text.startswith(
        "yes: 3 of the 3 fake clips (1 face swap, 2 self blend)"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"people": "ffpp"},
        {"count": 3},
        {"count": 0},
        {"count": 4.0},
        {"crfs": ()},
        {"crfs": (23, 23)},
        {"crfs": (23, 60)},
        {"methods": ()},
        {"methods": ("deepfake",)},
        {"methods": ("self_blend", "self_blend")},
        {"seconds": 0.0},
        {"seconds": 0.01},
        {"fps": 0},
        {"fps": 24.5},
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read_or_written(tmp_path, arguments):
    out = tmp_path / "clips"
    with pytest.raises(ValueError):
        benchmark_clips.write_clips(out, cache_folder=None, **{"count": 4, **arguments})
    assert not out.exists()
