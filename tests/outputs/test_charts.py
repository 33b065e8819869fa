from conftest import make_result

from detector.outputs import charts


def test_one_line_per_person_with_gaps_and_threshold():
    result = make_result({0: [0.9, None, 0.8], 1: [0.1, 0.2, 0.3]})
    figure = charts.frame_probability_figure(result, fake_threshold=0.6, uncertain_low=0.4)
    assert [trace.name for trace in figure.data] == ["Person 1", "Person 2"]
    assert list(figure.data[0].y) == [0.9, None, 0.8]
    assert figure.data[0].connectgaps is False
    assert list(figure.data[1].x) == [0.0, 0.5, 1.0]
    shapes = figure.layout.shapes
    assert any(shape.type == "line" and shape.y0 == 0.6 for shape in shapes)
    assert any(shape.type == "rect" and shape.y0 == 0.4 and shape.y1 == 0.6 for shape in shapes)
    labels = {annotation.text: annotation for annotation in figure.layout.annotations}
    assert set(labels) == {"inconclusive", "likely manipulated<br>from 0.60"}
    # Beside the plot, never over its points: the threshold's label above its line, the band's below.
    assert all(label.xref == "paper" and label.x >= 1.0 and label.y == 0.6 for label in labels.values())
    assert (labels["likely manipulated<br>from 0.60"].yanchor, labels["inconclusive"].yanchor) == ("bottom", "top")


def test_no_band_without_uncertain_range():
    figure = charts.frame_probability_figure(make_result({0: [0.2, 0.3]}), fake_threshold=0.5, uncertain_low=0.5)
    assert not any(shape.type == "rect" for shape in figure.layout.shapes)
