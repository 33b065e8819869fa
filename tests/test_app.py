"""Tests of the page, streamlit_app.py, through Streamlit's AppTest (no browser): one test per behaviour.

The tiny untrained model stands in for a trained one: these tests check what the page shows, not how good the
verdict is.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PROJECT, SHARED
from streamlit.testing.v1 import AppTest
from video_factory import make_video

from detector.analysis import pipeline
from detector.outputs import explain, presentation

APP = str(PROJECT / "streamlit_app.py")
FACE_IMAGE = SHARED / "data" / "dfdc-faces" / "faces" / "abplofmgwg.jpg"
HEADLINE = re.compile(
    # Two decimals, or more where two would round onto a threshold ("0.499" under 0.50: types.probability_text).
    r"\*\*(Likely manipulated|No sign of manipulation found|Inconclusive) — fake probability \d\.\d{2,}\*\*"
)

DOWNLOADS = ["Report (PDF)", "Report (HTML)", "Report (JSON)", "Scores per frame (CSV)"]

requires_face_image = pytest.mark.skipif(not FACE_IMAGE.is_file(), reason=f"face crop {FACE_IMAGE} not found")


def face_video(path: Path) -> Path:
    """An H.264 mp4 of a real face crop (224 px) on a grey background, moving a little from frame to frame."""
    face = cv2.cvtColor(cv2.imread(str(FACE_IMAGE)), cv2.COLOR_BGR2RGB)

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        image = np.full((height, width, 3), 90, np.uint8)
        left = 100 + 2 * frame_number
        image[60:284, left : left + 224] = face
        return image

    return make_video(path, frames=20, size=(480, 360), draw=draw)


def colour_video(path: Path) -> Path:
    """Frames of slowly changing flat colour, in the video_factory's default codec for the suffix's container."""

    def draw(frame_number: int, width: int, height: int) -> np.ndarray:
        return np.full((height, width, 3), (40 + 5 * frame_number, 120, 200), np.uint8)

    codec = "mpeg4" if path.suffix == ".avi" else "libx264"
    return make_video(path, frames=20, size=(320, 240), draw=draw, codec=codec)


def alerts(at: AppTest) -> list[str]:
    return [element.value for kind in (at.error, at.warning, at.success, at.info) for element in kind]


@pytest.fixture
def app(tiny_models_folder: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DETECTOR_MODELS", str(tiny_models_folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of its own for the page's temporary copies of uploads, to check they are deleted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_first_load_shows_title_explanation_settings_and_uploader(app: AppTest) -> None:
    assert not app.exception
    assert app.title[0].value == "Deepfake video checker"
    assert "judges faces only" in app.markdown[0].value and "evidence, not proof" in app.markdown[0].value
    assert app.file_uploader[0].label == "Videos or photos to check"
    assert app.file_uploader[0].accept_multiple_files
    # Streamlit adds aliases (.mpeg4 for .mp4) to the accepted types.
    videos, photos = {".mp4", ".mov", ".m4v", ".avi", ".webm", ".mkv"}, {".jpg", ".jpeg", ".png", ".webp"}
    assert videos | photos <= set(app.file_uploader[0].allowed_type)
    assert app.sidebar.multiselect[0].value == ["tiny"]
    assert app.sidebar.caption[0].value == "**tiny**: compact CNN."
    assert app.sidebar.slider[0].value == 32
    assert app.sidebar.selectbox[0].value == "confident"
    assert not alerts(app)


@requires_face_image
def test_video_with_a_face_gives_verdict_chart_faces_and_downloads(
    app: AppTest, tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    analyze = pipeline.analyze

    def counting_analyze(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return analyze(*args, **kwargs)

    monkeypatch.setattr(pipeline, "analyze", counting_analyze)
    data = face_video(tmp_path / "face.mp4").read_bytes()
    app.file_uploader[0].set_value(("interview.mp4", data, "video/mp4"))
    app.run()

    assert not app.exception
    verdicts = [text for text in alerts(app) if HEADLINE.match(text)]
    assert len(verdicts) == 1, alerts(app)
    assert "frames scored" in verdicts[0]
    assert any("0 (looks real) to 1 (looks manipulated)" in caption.value for caption in app.caption)
    assert len(app.get("plotly_chart")) == 1
    assert any("Gaps in a line are frames" in caption.value for caption in app.caption)
    assert 1 <= len(app.image) <= 24
    assert len(app.get("video")) == 1
    assert any(subheader.value == "About the model" for subheader in app.subheader)
    assert any("untrained: not measured" in markdown.value for markdown in app.markdown)
    assert [button.label for button in app.get("download_button")] == DOWNLOADS
    assert list(private_tmp.iterdir()) == [], "the temporary copy of the upload was not deleted"

    # A rerun (a download, a click elsewhere) shows the remembered result; a setting moved is not applied until
    # "Apply" is pressed, and then the file is analysed again.
    app.run()
    assert len(calls) == 1
    assert len([text for text in alerts(app) if HEADLINE.match(text)]) == 1
    app.sidebar.slider[0].set_value(8).run()
    assert len(calls) == 1
    app.sidebar.slider[0].set_value(8)
    button(app, "Apply").click().run()
    assert len(calls) == 2
    assert not app.exception


def test_text_file_named_mp4_shows_a_clear_error(app: AppTest, private_tmp: Path) -> None:
    app.file_uploader[0].set_value(("notes.mp4", b"this is not a video, just some text\n" * 20, "video/mp4"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert "not a video the checker can read" in app.error[0].value
    assert "plays in a video player" in app.error[0].value
    assert not app.get("plotly_chart")
    assert list(private_tmp.iterdir()) == []


def test_video_without_a_face_cannot_tell_and_says_why(app: AppTest, tmp_path: Path) -> None:
    data = colour_video(tmp_path / "colours.avi").read_bytes()
    app.file_uploader[0].set_value(("colours.avi", data, "video/x-msvideo"))
    app.run()
    assert not app.exception
    assert len(app.warning) >= 1
    assert app.warning[0].value.startswith("**Inconclusive**")
    assert "No face was found in any of the" in app.warning[0].value
    assert any("no probability is given" in caption.value for caption in app.caption)
    assert not app.get("plotly_chart")
    # MPEG-4 Part 2 in AVI does not play in browsers: a note instead of the player.
    assert not app.get("video")
    assert any("MPEG-4 Part 2 in AVI" in text and "cannot play" in text for text in alerts(app))
    assert [button.label for button in app.get("download_button")] == DOWNLOADS


def test_without_models_the_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("DETECTOR_MODELS", str(empty))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert "No trained model is installed" in at.error[0].value
    assert "python -m detector train" in at.error[0].value
    assert not at.file_uploader


def test_scope_note_is_open_before_any_upload_and_names_the_models_training_data(app: AppTest) -> None:
    (scope,) = [expander for expander in app.expander if expander.label == "What this checker can and cannot judge"]
    assert scope.proto.expanded
    text = scope.markdown[0].value
    # The tiny model's card says what it was trained on: the note quotes it rather than assuming DFDC.
    assert "like the face swaps the model learned from (none: random weights)" in text
    assert "generated entirely by AI, the audio or the voice, or edits elsewhere in the picture" in text
    assert "heavily compressed or the faces are small, blurry" in text


@requires_face_image
def test_show_where_the_model_looked_adds_overlays_computed_once(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    explain_top_faces = explain.explain_top_faces

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return explain_top_faces(*args, **kwargs)

    monkeypatch.setattr(explain, "explain_top_faces", counting)
    data = face_video(tmp_path / "face.mp4").read_bytes()
    app.file_uploader[0].set_value(("interview.mp4", data, "video/mp4"))
    app.run()
    assert not app.exception
    (toggle,) = app.toggle
    assert toggle.label == "Show where the model looked" and toggle.value is False
    faces_shown = len(app.image)
    assert not calls
    assert presentation.EXPLANATION_CAPTION not in [caption.value for caption in app.caption]

    app.toggle[0].set_value(True).run()
    assert not app.exception
    assert len(calls) == 1
    # One person: their 3 most suspicious faces, each shown again beside its overlay.
    assert len(app.image) == faces_shown + 2 * 3
    assert [caption.value for caption in app.caption].count(presentation.EXPLANATION_CAPTION) == 1

    app.run()  # A rerun shows the remembered overlays: no second gradient pass.
    assert len(calls) == 1
    assert len(app.image) == faces_shown + 2 * 3
    app.toggle[0].set_value(False).run()
    assert len(app.image) == faces_shown
    assert len(calls) == 1


def button(at: AppTest, label: str):
    (found,) = [button for button in at.button if button.label == label]
    return found


@requires_face_image
def test_annotated_video_is_made_on_request_shown_and_offered_for_download(
    app: AppTest, tmp_path: Path, private_tmp: Path
) -> None:
    import av

    data = face_video(tmp_path / "face.mp4").read_bytes()
    app.file_uploader[0].set_value(("interview.mp4", data, "video/mp4"))
    app.run()
    assert len(app.get("video")) == 1  # not made for every upload: only the upload itself is shown

    button(app, "Make the annotated video").click().run()
    assert not app.exception
    assert any(markdown.value == "**Annotated video**" for markdown in app.markdown)
    # The offer is gone in the run that made the copy, not only in the next one.
    assert not [item for item in app.button if item.label == "Make the annotated video"]
    assert len(app.get("video")) == 2
    assert any(
        "every other frame shows the boxes and scores of the nearest sampled frame" in c.value for c in app.caption
    )
    assert "Download the annotated video (MP4)" in [item.label for item in app.get("download_button")]
    (annotated,) = app.session_state["annotated"].values()
    clip = tmp_path / "annotated.mp4"
    clip.write_bytes(annotated)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 480, 360)
        assert sum(1 for _ in container.decode(stream)) == 20
    assert list(private_tmp.iterdir()) == [], "the temporary copies were not deleted"

    app.run()  # A rerun shows the remembered video without making it again.
    assert len(app.get("video")) == 2
    assert not [item for item in app.button if item.label == "Make the annotated video"]


@requires_face_image
def test_stability_check_runs_on_request_and_says_whether_the_verdict_holds(
    app: AppTest, tmp_path: Path, private_tmp: Path
) -> None:
    data = face_video(tmp_path / "face.mp4").read_bytes()
    app.file_uploader[0].set_value(("interview.mp4", data, "video/mp4"))
    app.run()
    before = alerts(app)
    assert not [text for text in before if "re-encoding" in text]

    button(app, "Check stability").click().run()
    assert not app.exception
    assert not [item for item in app.button if item.label == "Check stability"]
    assert not [item for item in app.caption if "Social platforms shrink" in item.value]
    (sentence,) = [text for text in alerts(app) if "after re-encoding at 360p, low quality" in text]
    (checked,) = app.session_state["stability"].values()
    assert sentence == checked.sentence
    assert (sentence in [element.value for element in app.success]) == checked.holds
    assert list(private_tmp.iterdir()) == [], "the temporary copies were not deleted"


@requires_face_image
def test_photo_upload_shows_the_photo_its_score_and_no_chart(app: AppTest, tmp_path: Path, private_tmp: Path) -> None:
    face = cv2.imread(str(FACE_IMAGE))
    image = np.full((360, 480, 3), 90, np.uint8)
    image[60:284, 120:344] = face
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    app.file_uploader[0].set_value(("portrait.jpg", encoded.tobytes(), "image/jpeg"))
    app.run()

    assert not app.exception
    (verdict,) = [text for text in alerts(app) if HEADLINE.match(text)]
    assert "A single photo: the verdict rests on one view of each face" in verdict
    assert any(
        caption.value == "480 × 360 pixels, JPEG photo. It shows a face the model could judge."
        for caption in app.caption
    )
    assert not app.get("plotly_chart")
    assert any(subheader.value == "The score" for subheader in app.subheader)
    assert any(re.fullmatch(r"- Person 1: fake probability \d\.\d{2,}", markdown.value) for markdown in app.markdown)
    assert any(subheader.value == "The photo" for subheader in app.subheader)
    assert not app.get("video")
    images = len(app.image)  # the face crop and the photo itself
    assert images == 2

    button(app, "Make the annotated photo").click().run()
    assert not app.exception
    assert len(app.image) == images + 1
    assert "Download the annotated photo (PNG)" in [item.label for item in app.get("download_button")]
    assert list(private_tmp.iterdir()) == []


@requires_face_image
def test_two_models_selected_show_each_models_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detector.shipping import ship
    from detector.training import architectures

    folder = tmp_path / "models"
    model = architectures.build_classifier("compact", input_size=224, resolution=32)
    for name in ("first", "second"):
        ship.save_with_card(model, name, folder, "compact", f"{name} untrained model", {"data": "none"}, {})
    monkeypatch.setenv("DETECTOR_MODELS", str(folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.multiselect[0].set_value(["first", "second"])
    button(at, "Apply").click().run()
    # One line per chosen model beside the choice.
    assert [caption.value.split(":")[0] for caption in at.sidebar.caption[:2]] == ["**first**", "**second**"]
    at.file_uploader[0].set_value(("two.mp4", face_video(tmp_path / "face.mp4").read_bytes(), "video/mp4"))
    at.run()
    assert not at.exception
    # The same weights twice: they agree, and the page says so with each model's verdict.
    summaries = [caption.value for caption in at.caption if "models agree" in caption.value]
    assert len(summaries) == 1 and "first: " in summaries[0] and "second: " in summaries[0]
    assert any(subheader.value == "About the model" for subheader in at.subheader)
    # No ensembles.json in this folder: the page says the average's thresholds were not fitted, and whose it uses.
    assert any(
        caption.value.startswith("Thresholds were not fitted for this selection, so those of first alone")
        for caption in at.caption
    )


@requires_face_image
def test_an_averaged_model_shows_its_members_in_the_model_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detector.shipping import ship
    from detector.training import architectures

    folder = tmp_path / "models"
    members = {name: architectures.build_classifier("compact", input_size=224, resolution=32) for name in "ab"}
    training = {"data": "none", "members": ["a: first untrained model", "b: second untrained model"]}
    pair = architectures.average_of(members)
    ship.save_with_card(pair, "pair", folder, "average(compact, compact)", "mean of a and b", training, {})
    monkeypatch.setenv("DETECTOR_MODELS", str(folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.file_uploader[0].set_value(("pair.mp4", face_video(tmp_path / "face.mp4").read_bytes(), "video/mp4"))
    at.run()
    assert not at.exception
    assert not [text for text in alerts(at) if text.startswith("Sorry")]
    facts = [markdown.value for markdown in at.markdown if "Models averaged:" in markdown.value]
    assert facts and "a: first untrained model; b: second untrained model" in facts[0]
    assert [button.label for button in at.get("download_button")] == DOWNLOADS


@requires_face_image
def test_several_files_give_a_summary_table_and_each_ones_full_result(
    app: AppTest, tmp_path: Path, private_tmp: Path
) -> None:
    face = face_video(tmp_path / "face.mp4").read_bytes()
    colours = colour_video(tmp_path / "colours.mp4").read_bytes()
    app.file_uploader[0].set_value(
        [
            ("interview.mp4", face, "video/mp4"),
            ("notes.mp4", b"this is not a video, just some text\n" * 20, "video/mp4"),
            ("colours.mp4", colours, "video/mp4"),
        ]
    )
    app.run()
    assert not app.exception
    (table,) = app.table
    rows = table.value.to_dict("records")
    # One bad file does not stop the others: it has its row, with the reason, and the files after it were checked.
    assert [row["File"] for row in rows] == ["interview.mp4", "notes.mp4", "colours.mp4"]
    assert rows[1]["Verdict"] == "Not checked" and "not a video the checker can read" in rows[1]["Reason"]
    assert rows[2]["Verdict"] == "Inconclusive" and rows[2]["Fake probability"] == "—"
    assert rows[0]["Fake probability"] != "—"
    (choice,) = [box for box in app.selectbox if box.label == "Full result of"]
    assert choice.value == 0
    assert len([text for text in alerts(app) if HEADLINE.match(text)]) == 1
    assert [item.label for item in app.get("download_button")] == DOWNLOADS

    choice.set_value(1).run()
    assert not app.exception
    assert any("not a video the checker can read" in text for text in (error.value for error in app.error))
    assert not app.get("download_button")

    next(box for box in app.selectbox if box.label == "Full result of").set_value(2).run()
    assert any(text.startswith("**Inconclusive**") for text in alerts(app))
    assert list(private_tmp.iterdir()) == [], "the temporary copies of the uploads were not deleted"


def test_more_files_than_the_page_takes_are_left_out_with_a_message(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = []

    def refuse(path: Path, *args: object, **kwargs: object) -> None:
        checked.append(path)
        raise pipeline.UnreadableVideoError("not a video")

    monkeypatch.setattr(pipeline, "analyze", refuse)
    files = [(f"clip{number}.mp4", f"clip {number}".encode(), "video/mp4") for number in range(12)]
    app.file_uploader[0].set_value(files).run()
    assert not app.exception
    assert any("12 files were dropped; the checker takes up to 10 at once" in text for text in alerts(app))
    assert len(checked) == 10
    assert len(app.table[0].value) == 10


@requires_face_image
def test_on_request_sections_do_not_analyse_again(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    analyze = pipeline.analyze
    monkeypatch.setattr(pipeline, "analyze", lambda *args, **kwargs: calls.append(1) or analyze(*args, **kwargs))
    app.file_uploader[0].set_value(("interview.mp4", face_video(tmp_path / "face.mp4").read_bytes(), "video/mp4"))
    app.run()
    button(app, "Make the annotated video").click().run()
    app.toggle[0].set_value(True).run()
    assert not app.exception
    assert len(calls) == 1


@requires_face_image
def test_about_the_model_is_a_short_summary_with_a_table_and_the_full_figures_folded(tmp_path: Path) -> None:
    # The shipped default model, with its real measurements: the page shows them in plain words only.
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.file_uploader[0].set_value(("interview.mp4", face_video(tmp_path / "face.mp4").read_bytes(), "video/mp4"))
    at.run()
    assert not at.exception
    assert any(subheader.value == "About the model" for subheader in at.subheader)
    (table,) = at.table
    rows = table.value.to_dict("records")
    assert rows[0]["Measured on"].startswith("Deepfakes like those it learned from")
    assert all(row["Real faces called fake"].endswith("%") for row in rows)
    (folded,) = [expander for expander in at.expander if expander.label == "All measurements"]
    assert not folded.proto.expanded
    shown = [element.value for kind in (at.markdown, at.caption) for element in kind] + [
        str(value) for row in rows for value in row.values()
    ]
    for text in shown:
        assert "../shared" not in text and "average(" not in text and "detector." not in text, text
    # The default ranks expression changes near chance (its card's benchmark): a verdict that is not "Likely
    # manipulated" says so right under it.
    (headline,) = [text for text in alerts(at) if HEADLINE.match(text)]
    caveats = [text for text in alerts(at) if "does not rule out every kind of manipulation" in text]
    if headline.startswith("**Likely manipulated"):
        assert not caveats
    else:
        (caveat,) = caveats
        assert "changed mouth or lower face" in caveat, caveat
