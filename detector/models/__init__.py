"""Reading a trained model: its card (``model_card``), its weights (``weight_storage``), applying its fitted
calibration (``calibration``) and the thresholds fitted for a selection of models (``ensemble_table``).

Below the analysis: everything here reads what ``detector.shipping`` wrote into ``models/``.
"""
