"""Plotly figures of an evaluation: ROC curves and reliability diagrams. Pure functions, no user interface.

Each takes ``(name, labels, probabilities)`` triples, one per level (crop, video), ``(N,)`` arrays with labels
1 = fake and both classes present.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from detector.evaluation import metrics

Curve = tuple[str, np.ndarray, np.ndarray]
LEVEL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "height": 480, "width": 560, "hovermode": "closest"}


def roc_figure(curves: Sequence[Curve]) -> go.Figure:
    """ROC curve of each level, its AUC and EER in the legend, with the chance diagonal."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999999"}, name="chance")
    )
    for position, (name, labels, probabilities) in enumerate(curves):
        points = metrics.roc_points(labels, probabilities)
        measured = metrics.classification_metrics(labels, probabilities)
        thresholds = np.minimum(points["threshold"], 1.0)
        figure.add_trace(
            go.Scatter(
                x=points["false_positive_rate"],
                y=points["true_positive_rate"],
                customdata=thresholds,
                mode="lines",
                line={"color": LEVEL_COLORS[position % len(LEVEL_COLORS)], "width": 2},
                name=f"{name}: AUC {measured['roc_auc']:.3f}, EER {measured['equal_error_rate']:.3f} (n={labels.size})",
                hovertemplate="threshold %{customdata:.3f}<br>false positives %{x:.3f}<br>true positives %{y:.3f}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="ROC: fakes caught against reals wrongly flagged",
        xaxis={"title": "false-positive rate (reals called fake)", "range": [0, 1]},
        yaxis={"title": "true-positive rate (fakes caught)", "range": [0, 1], "scaleanchor": "x"},
        legend={"x": 0.35, "y": 0.05},
        **_LAYOUT,
    )
    return figure


def reliability_figure(curves: Sequence[Curve], bins: int = metrics.CALIBRATION_BINS) -> go.Figure:
    """Observed share of fakes against mean predicted probability in equal-width bins (the ECE's bins).

    Points on the diagonal are calibrated; below it the model is over-confident about "fake". Marker area
    follows the bin's count; empty bins are not drawn.
    """
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999999"}, name="perfect calibration"
        )
    )
    for position, (name, labels, probabilities) in enumerate(curves):
        binned = metrics.calibration_bins(labels, probabilities, bins)
        filled = binned["count"] > 0
        counts = binned["count"][filled]
        ece = metrics.expected_calibration_error(labels, probabilities, bins)
        figure.add_trace(
            go.Scatter(
                x=binned["mean_probability"][filled],
                y=binned["fake_fraction"][filled],
                customdata=counts,
                mode="lines+markers",
                marker={"size": 6 + 18 * np.sqrt(counts / counts.max()), "opacity": 0.8},
                line={"color": LEVEL_COLORS[position % len(LEVEL_COLORS)], "width": 1.5},
                name=f"{name}: ECE {ece:.3f} (n={labels.size})",
                hovertemplate="mean probability %{x:.3f}<br>share fake %{y:.3f}<br>%{customdata} samples"
                "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title=f"Reliability: share of fakes per probability bin ({bins} bins)",
        xaxis={"title": "mean predicted fake probability", "range": [0, 1]},
        yaxis={"title": "observed share of fakes", "range": [0, 1], "scaleanchor": "x"},
        legend={"x": 0.02, "y": 0.98},
        **_LAYOUT,
    )
    return figure
