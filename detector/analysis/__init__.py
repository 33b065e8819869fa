"""The analysis of one video, one module per step, in pipeline order.

``video`` (probe, sample frames; ``uploads`` for files handed over by a page) -> ``faces`` (detect, with
``tflite``) -> ``cropping`` -> ``scoring`` -> ``tracking`` -> ``aggregation`` (a verdict per person and per video)
with ``quality`` (inputs too poor to judge) and ``disagreement`` (models that disagree) -> ``pipeline`` runs them
all and returns a ``detector.types.VideoResult``.
"""
