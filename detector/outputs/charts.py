"""Plotly figures from results: pure functions, no user interface.

Frames in which a person's face was not found are gaps in that person's line, never a made-up value.
"""

from __future__ import annotations

import plotly.graph_objects as go

from detector.types import VideoResult, person_label, probability_text, threshold_text

PERSON_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


# Pixels right of the plot for the threshold labels ("likely manipulated" in 11 px type).
LABEL_MARGIN = 120


def frame_probability_figure(
    result: VideoResult, fake_threshold: float, uncertain_low: float | None = None
) -> go.Figure:
    """Fake probability of each sampled frame over time, one line per person, with the threshold drawn.

    Hovering a point shows its probability as the page writes it beside these thresholds (``probability_text``).
    """
    figure = go.Figure()
    times = [frame.time_seconds for frame in result.frames]
    thresholds = (fake_threshold,) if uncertain_low is None else (fake_threshold, uncertain_low)
    for position, track in enumerate(result.tracks):
        by_frame = {score.frame_index: score.fake_probability for score in track.scores}
        values = [by_frame.get(frame.index) for frame in result.frames]
        shown = ["" if value is None else probability_text(value, thresholds) for value in values]
        figure.add_trace(
            go.Scatter(
                x=times,
                y=values,
                customdata=[[frame.index, text] for frame, text in zip(result.frames, shown, strict=True)],
                mode="lines+markers",
                connectgaps=False,
                name=person_label(track.track_id),
                line={"color": PERSON_COLORS[position % len(PERSON_COLORS)], "width": 2},
                hovertemplate="%{x:.2f} s (frame %{customdata[0]})<br>fake probability %{customdata[1]}<extra>"
                "%{fullData.name}</extra>",
            )
        )
    # The labels sit in the right margin, beside the lines they name, so that no point is ever hidden under
    # them: the threshold's above its line, the band's below it.
    if uncertain_low is not None and uncertain_low < fake_threshold:
        figure.add_hrect(y0=uncertain_low, y1=fake_threshold, fillcolor="#999999", opacity=0.15, line_width=0)
        _margin_label(figure, "inconclusive", fake_threshold, "top")
    figure.add_hline(y=fake_threshold, line_dash="dash", line_color="#444444")
    _margin_label(figure, f"likely manipulated<br>from {threshold_text(fake_threshold)}", fake_threshold, "bottom")
    duration = max(result.info.duration_seconds, times[-1] if times else 0.0)
    figure.update_layout(
        xaxis={"title": "time in the video (seconds)", "range": [0, max(duration, 0.1)]},
        yaxis={"title": "fake probability", "range": [0, 1]},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 10, "r": LABEL_MARGIN, "t": 40, "b": 10},
        height=320,
        hovermode="closest",
    )
    return figure


def _margin_label(figure: go.Figure, text: str, y: float, yanchor: str) -> None:
    figure.add_annotation(
        text=text,
        xref="paper",
        x=1.0,
        xanchor="left",
        yref="y",
        y=y,
        yanchor=yanchor,
        align="left",
        showarrow=False,
        font={"size": 11, "color": "#444444"},
    )
