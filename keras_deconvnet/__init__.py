"""keras-deconvnet: efficient DeconvNet semantic segmentation in Keras 3."""

from keras_deconvnet.errors import UsageError
from keras_deconvnet.losses import SegmentationCrossEntropy  # registered: trained .keras files load
from keras_deconvnet.models import build_model, load_model

__version__ = "0.1.0"
__all__ = ["SegmentationCrossEntropy", "UsageError", "__version__", "build_model", "load_model"]
