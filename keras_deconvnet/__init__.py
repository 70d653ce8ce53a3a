"""keras-deconvnet: efficient DeconvNet semantic segmentation in Keras 3.

Importing the package imports neither Keras nor TensorFlow, so that the commands' `--help`
starts at once; `build_model`, `load_model` and `SegmentationCrossEntropy` are imported on
first use (which also registers the package's losses and layers, so trained .keras files load).
"""

import importlib

from keras_deconvnet.errors import UsageError

__version__ = "0.1.0"
__all__ = ["SegmentationCrossEntropy", "UsageError", "__version__", "build_model", "load_model"]

_LAZY = {
    "SegmentationCrossEntropy": "keras_deconvnet.losses",
    "build_model": "keras_deconvnet.models",
    "load_model": "keras_deconvnet.models",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("keras_deconvnet.losses")  # registered: trained .keras files load compiled
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
