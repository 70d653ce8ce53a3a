"""Segmentation losses from logits that skip the ignore label: cross-entropy, OHEM, Lovász.

`build_loss(name, class_weights)` gives the loss `--loss` names:

- "cross-entropy": the weighted mean of per-pixel cross-entropy over valid pixels.
- "ohem": cross-entropy over the hard pixels only (online hard-example mining).
- "lovasz": the Lovász-softmax loss, a convex surrogate of (1 - IoU) per class.
- "ce+lovasz": cross-entropy plus Lovász-softmax, each with weight 1.

All of them are written with `keras.ops` (they run on TensorFlow and JAX), take labels
(B, H, W) and logits (B, H, W, C), and give 0, not NaN, for a batch with no valid pixel.

Under a TensorFlow distribution strategy (`--strategy mirrored` or `multiworker`) each
replica sees part of the batch, and Keras sums the replicas' gradients. The weighted means
therefore divide by the weight of the **global** batch (summed over the replicas), so that
the sum is the gradient of the one-device loss; Lovász-softmax, a function of a whole
batch, is each replica's own divided by the replica count (the mean over replicas), and
OHEM keeps its `min_kept` hardest pixels per replica.
"""

from collections.abc import Sequence

import keras
from keras import ops

from keras_deconvnet.constants import IGNORE_LABEL, LOSS_NAMES
from keras_deconvnet.errors import UsageError


def replicas() -> tuple:
    """(replicas in sync, a sum over them) for the TensorFlow strategy in force; (1, identity) else."""
    if keras.backend.backend() != "tensorflow":
        return 1, lambda value: value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, lambda value: value
    return context.num_replicas_in_sync, lambda value: context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _labels_and_valid(y_true, y_pred, ignore_label):
    """int32 labels (B, H, W) with ignored pixels set to 0, and the valid-pixel mask."""
    labels = ops.cast(y_true, "int32")
    if len(labels.shape) == len(y_pred.shape):
        labels = ops.squeeze(labels, axis=-1)
    valid = ops.not_equal(labels, ignore_label)
    return ops.where(valid, labels, 0), valid


class _WeightedLoss(keras.losses.Loss):
    """A loss with optional class weights and an ignore label, both in its config."""

    def __init__(self, class_weights, ignore_label, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.ignore_label = ignore_label

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "ignore_label": self.ignore_label,
        }

    def _weighted_mean(self, pixel_loss, labels, valid):
        """The mean of `pixel_loss` over the valid pixels, each weighted by its class: this
        replica's share of the mean over the global batch (see the module docstring)."""
        weights = ops.cast(valid, pixel_loss.dtype)
        if self.class_weights is not None:
            class_weights = ops.convert_to_tensor(self.class_weights, pixel_loss.dtype)
            weights = weights * ops.take(class_weights, labels)
        _, sum_over_replicas = replicas()
        total_weight = sum_over_replicas(ops.stop_gradient(ops.sum(weights)))
        return ops.sum(pixel_loss * weights) / ops.maximum(total_weight, 1e-12)


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class SegmentationCrossEntropy(_WeightedLoss):
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
        super().__init__(class_weights, ignore_label, name, **kwargs)

    def call(self, y_true, y_pred):
        labels, valid = _labels_and_valid(y_true, y_pred, self.ignore_label)
        pixel_loss = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        return self._weighted_mean(pixel_loss, labels, valid)


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class OhemCrossEntropy(_WeightedLoss):
    """Cross-entropy over the hard pixels: online hard-example mining (OHEM).

    The selection is MMSegmentation's `OHEMPixelSampler`: a valid pixel is kept when the
    softmax probability of its true class is below `threshold`, or below the probability of
    the `min_kept`-th hardest valid pixel if that is higher, so at least about `min_kept`
    pixels count. Two differences: `min_kept` counts the pixels of the whole batch (MMSeg's
    is per image, and its 100,000 would keep every pixel of a 256x352 crop), and the loss is
    the weighted mean cross-entropy of the kept pixels (as HRNet's `OhemCrossEntropy`; MMSeg
    divides by every pixel). Easy pixels (a road already called road) stop drowning out the
    thin classes that decide mean IoU.

    Reference: A. Shrivastava, A. Gupta and R. Girshick, "Training Region-based Object
    Detectors with Online Hard Example Mining", CVPR 2016.

    Args:
        class_weights: one weight per class, or None.
        ignore_label: the label to skip.
        threshold: keep pixels whose true-class probability is below it.
        min_kept: the least number of pixels of a batch to keep.
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        ignore_label: int = IGNORE_LABEL,
        threshold: float = 0.7,
        min_kept: int = 100_000,
        name: str = "ohem_cross_entropy",
        **kwargs,
    ):
        super().__init__(class_weights, ignore_label, name, **kwargs)
        self.threshold = float(threshold)
        self.min_kept = int(min_kept)

    def call(self, y_true, y_pred):
        labels, valid = _labels_and_valid(y_true, y_pred, self.ignore_label)
        pixel_loss = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        probability = ops.stop_gradient(ops.exp(-pixel_loss))
        # Ignored pixels sort last (probabilities are at most 1).
        ranked = ops.sort(ops.reshape(ops.where(valid, probability, 2.0), (-1,)))
        valid_count = ops.sum(ops.cast(valid, "int32"))
        index = ops.maximum(ops.minimum(self.min_kept, valid_count - 1), 0)
        threshold = ops.maximum(ops.take(ranked, index), self.threshold)
        kept = ops.logical_and(valid, probability < threshold)
        return self._weighted_mean(pixel_loss, labels, kept)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold, "min_kept": self.min_kept}


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class LovaszSoftmax(_WeightedLoss):
    """The Lovász-softmax loss: a convex surrogate of 1 - IoU, averaged over classes.

    For each class present in the batch's labels, the errors |[label = c] - p_c| of the
    valid pixels are sorted in decreasing order and weighted by the gradient of the
    Lovász extension of the Jaccard loss (Berman et al., Algorithm 1); the loss is the
    (class-weighted) mean over the present classes, computed over the whole batch. An
    ignored pixel gets error 0 and no foreground, which sorts it after every pixel that
    counts and leaves the sum unchanged, so no dynamic-shape indexing is needed.

    The sort is the cost: over every pixel of a batch of 256x352 crops it takes longer on a
    CPU than the lean model's whole training step. So by default it runs on every fourth row
    and column (starting at index 2), the density of the lean model's stride-4 logits, which
    the bilinear upsampling to the input size only interpolates; for a model whose logits
    are finer, `pixel_stride=1` uses every pixel. Class weights, when given, make the mean
    over classes a weighted one; the loss is already balanced across classes without them,
    since each present class counts once whatever its pixel count.

    Reference: M. Berman, A. Rannen Triki and M. Blaschko, "The Lovász-Softmax loss: A
    tractable surrogate for the optimization of the intersection-over-union measure in
    neural networks", CVPR 2018.

    Args:
        class_weights: one weight per class (for the mean over classes), or None.
        ignore_label: the label to skip.
        pixel_stride: use every `pixel_stride`-th row and column of pixels.
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        ignore_label: int = IGNORE_LABEL,
        pixel_stride: int = 4,
        name: str = "lovasz_softmax",
        **kwargs,
    ):
        super().__init__(class_weights, ignore_label, name, **kwargs)
        if int(pixel_stride) < 1:
            raise UsageError(f"pixel_stride must be a positive int, got {pixel_stride}")
        self.pixel_stride = int(pixel_stride)

    def get_config(self) -> dict:
        return {**super().get_config(), "pixel_stride": self.pixel_stride}

    def call(self, y_true, y_pred):
        labels, valid = _labels_and_valid(y_true, y_pred, self.ignore_label)
        start, stride = self.pixel_stride // 2, self.pixel_stride
        labels, valid = labels[:, start::stride, start::stride], valid[:, start::stride, start::stride]
        y_pred = y_pred[:, start::stride, start::stride]
        num_classes = y_pred.shape[-1]
        probabilities = ops.reshape(ops.softmax(y_pred, axis=-1), (-1, num_classes))
        valid = ops.cast(ops.reshape(valid, (-1, 1)), probabilities.dtype)
        foreground = ops.one_hot(ops.reshape(labels, (-1,)), num_classes, dtype=probabilities.dtype)
        foreground = foreground * valid
        errors = ops.transpose(ops.abs(foreground - probabilities) * valid)  # (C, N)
        foreground = ops.transpose(foreground)
        order = ops.flip(ops.argsort(errors, axis=-1), axis=-1)  # decreasing errors
        errors_sorted = ops.take_along_axis(errors, order, axis=-1)
        foreground_sorted = ops.take_along_axis(foreground, order, axis=-1)
        gradient = ops.stop_gradient(_lovasz_gradient(foreground_sorted))
        per_class = ops.sum(errors_sorted * gradient, axis=-1)
        present = ops.cast(ops.sum(foreground, axis=-1) > 0, per_class.dtype)
        if self.class_weights is not None:
            present = present * ops.convert_to_tensor(self.class_weights, per_class.dtype)
        replica_count, _ = replicas()
        return ops.sum(per_class * present) / ops.maximum(ops.sum(present), 1e-12) / replica_count


def _lovasz_gradient(foreground_sorted):
    """The gradient of the Lovász extension of the Jaccard loss, per row of sorted 0/1 labels."""
    total = ops.sum(foreground_sorted, axis=-1, keepdims=True)
    intersection = total - ops.cumsum(foreground_sorted, axis=-1)
    union = total + ops.cumsum(1.0 - foreground_sorted, axis=-1)
    jaccard = 1.0 - intersection / union
    return ops.concatenate([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], axis=-1)


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class CrossEntropyLovasz(_WeightedLoss):
    """Cross-entropy plus Lovász-softmax, each with weight 1.

    Cross-entropy gives every pixel a smooth gradient from the first step, and Lovász aims
    at the IoU that is scored; Berman et al. found the pair trains better from scratch than
    Lovász alone. Class weights apply to the cross-entropy only: they correct its bias
    towards frequent classes, which Lovász, a plain mean over the present classes like the
    mean IoU that is scored, does not have.

    Args:
        class_weights: one weight per class for the cross-entropy, or None.
        ignore_label: the label to skip.
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        ignore_label: int = IGNORE_LABEL,
        name: str = "cross_entropy_lovasz",
        **kwargs,
    ):
        super().__init__(class_weights, ignore_label, name, **kwargs)
        self.cross_entropy = SegmentationCrossEntropy(class_weights, ignore_label)
        self.lovasz = LovaszSoftmax(None, ignore_label)

    def call(self, y_true, y_pred):
        return self.cross_entropy.call(y_true, y_pred) + self.lovasz.call(y_true, y_pred)


def build_loss(
    name: str, class_weights: Sequence[float] | None = None, ignore_label: int = IGNORE_LABEL
) -> keras.losses.Loss:
    """The loss `--loss NAME` means, with the given class weights.

    Args:
        name: one of `LOSS_NAMES`.
        class_weights: one weight per class, or None.
        ignore_label: the label to skip.

    Raises:
        UsageError: an unknown name.
    """
    losses = {
        "cross-entropy": SegmentationCrossEntropy,
        "ohem": OhemCrossEntropy,
        "lovasz": LovaszSoftmax,
        "ce+lovasz": CrossEntropyLovasz,
    }
    if name not in losses:
        raise UsageError(f"unknown loss '{name}'; choose one of: {', '.join(LOSS_NAMES)}")
    return losses[name](class_weights, ignore_label)
