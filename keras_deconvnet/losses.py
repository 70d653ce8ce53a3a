"""Cross-entropy for segmentation: logits in, the ignore label out, optional class weights."""

from collections.abc import Sequence

import keras
from keras import ops

from keras_deconvnet.labels import IGNORE_LABEL


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class SegmentationCrossEntropy(keras.losses.Loss):
    """Per-pixel softmax cross-entropy from logits that skips ignored pixels.

    The loss is the weighted mean over the valid pixels of the batch (PyTorch's
    `CrossEntropyLoss(weight=..., ignore_index=255)`): ignored pixels add nothing to the loss
    nor to its gradient, and a batch with no valid pixel gives 0, not NaN.

    Args:
        class_weights: one weight per class (e.g. SegNet's median-frequency weights), or
            None for equal weights.
        ignore_label: the label to skip.

    Example:
        >>> loss = SegmentationCrossEntropy(class_weights=[0.5, 2.0])
        >>> loss(labels, logits)  # labels (B, H, W) ints, logits (B, H, W, C)
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        ignore_label: int = IGNORE_LABEL,
        name: str = "segmentation_cross_entropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.ignore_label = ignore_label

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = ops.squeeze(labels, axis=-1)
        valid = ops.not_equal(labels, self.ignore_label)
        safe_labels = ops.where(valid, labels, 0)
        pixel_loss = ops.sparse_categorical_crossentropy(safe_labels, y_pred, from_logits=True)
        weights = ops.cast(valid, pixel_loss.dtype)
        if self.class_weights is not None:
            class_weights = ops.convert_to_tensor(self.class_weights, dtype=pixel_loss.dtype)
            weights = weights * ops.take(class_weights, safe_labels)
        total_weight = ops.sum(weights)
        return ops.sum(pixel_loss * weights) / ops.maximum(total_weight, 1e-12)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "ignore_label": self.ignore_label,
        }
