"""Deepfake video checker: sample frames, find faces, score them, decide, explain.

The pipeline, one module per step: ``video`` -> ``faces`` and ``cropping`` -> ``scoring`` -> ``tracking`` ->
``aggregation`` -> ``charts`` and ``export``; ``pipeline`` runs them in order. Nothing is imported here, so that
``import detector`` costs nothing; import the modules you need.
"""
