"""keras-deconvnet: efficient DeconvNet semantic segmentation in Keras 3.

Importing the package imports neither Keras nor TensorFlow, so that the commands' `--help`
starts at once; `build_model`, `load_model` and `SegmentationCrossEntropy` are imported on
first use (which also registers the package's losses and layers, so trained .keras files load).
"""

from keras_deconvnet.errors import UsageError
from keras_deconvnet.lazy import lazy_attributes

__version__ = "0.1.0"

_HOMES = {
    "SegmentationCrossEntropy": "losses",
    "build_model": "models",
    "load_model": "models",
}

__all__ = ["SegmentationCrossEntropy", "UsageError", "__version__", "build_model", "load_model"]

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals(), preload=("losses",))
