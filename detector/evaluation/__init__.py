"""Measuring models and the whole checker on labelled data: ``metrics`` (ROC AUC, calibration error, decision
rates, bootstrap intervals), ``evaluate`` (crops or whole videos, recorded into a card) and ``plots``.
"""
