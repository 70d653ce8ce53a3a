"""ONNX export, for runtimes outside TensorFlow (ONNX Runtime, TensorRT, OpenVINO).

Keras' own exporter (`model.export(format="onnx")`, through tf2onnx on the TensorFlow
backend) writes the graph with a dynamic batch and float32 NHWC input, as the SavedModel
takes it. tf2onnx's graph optimiser logs the failures it recovers from as tracebacks; the
commands keep them off the console unless `--verbose` (`keras_deconvnet.process`).
"""

import warnings
from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models import model_input_size

INSTALL_HINT = 'ONNX export needs tf2onnx and onnxruntime: pip install "keras-deconvnet[onnx]"'


def write_onnx(model: keras.Model, path: str | Path) -> None:
    """Writes `model` as an ONNX file: images float32 (B, H, W, 3) RGB 0..255 -> logits."""
    try:
        import onnxruntime  # noqa: F401  (the check needs it too: fail before converting)
        import tf2onnx  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    height, width = model_input_size(model)
    spec = keras.InputSpec(shape=(None, height, width, 3), dtype="float32")
    try:
        with warnings.catch_warnings():  # Keras' tf2onnx shim probes the removed np.object
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format="onnx", input_signature=[spec], verbose=False)
    except Exception as error:
        raise UsageError(f"ONNX conversion failed: {str(error).strip().splitlines()[0]}") from error
