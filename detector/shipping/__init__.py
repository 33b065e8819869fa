"""Turning trained weights into a shipped model: ``export`` (a training run's best checkpoint), ``calibrate``
(calibration and thresholds fitted on validation data), ``ship`` (writing a model with its card; recalibrate,
quantize to 8 bits, combine several into one average) and ``ensembles`` (thresholds for every selection of
several shipped models, ``models/ensembles.json``).
"""
