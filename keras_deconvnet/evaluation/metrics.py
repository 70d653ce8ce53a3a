"""Mean IoU, per-class IoU and pixel accuracy, all from one confusion matrix.

The confusion matrix is accumulated over the whole evaluation set (never averaged per
batch); rows are true classes, columns predicted ones, ignored pixels are left out.
"""

import keras
import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class SegmentationMeanIoU(keras.metrics.MeanIoU):
    """Keras' MeanIoU whose targets may carry more than the labels.

    A distillation run's training targets are (B, H, W, 1 + C): the label, then the teacher's
    probabilities (`keras_deconvnet.training.distillation`); this metric scores the label
    channel of those and takes plain (B, H, W) labels as they are.
    """

    def update_state(self, y_true, y_pred, sample_weight=None):
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] != 1:
            y_true = y_true[..., 0]
        return super().update_state(y_true, y_pred, sample_weight)


def mean_iou_metric(num_classes: int) -> keras.metrics.MeanIoU:
    """MeanIoU for logits (`sparse_y_pred=False`) with the ignore label skipped.

    It accumulates its confusion matrix (`total_cm`) over every batch of an evaluation;
    `ValidationScores` reads it for per-class IoU.
    """
    return SegmentationMeanIoU(
        num_classes=num_classes, ignore_class=IGNORE_LABEL, sparse_y_pred=False, name="mean_iou"
    )


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (true, predicted) pairs over the valid pixels with one bincount.

    Args:
        labels: integer labels of any shape; `IGNORE_LABEL` pixels are skipped.
        predictions: predicted classes, the same shape.
        num_classes: C.

    Returns:
        int64 (C, C) matrix, rows true classes, columns predictions.
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    valid = labels != IGNORE_LABEL
    if np.any(labels[valid] >= num_classes) or np.any(labels[valid] < 0):
        raise ValueError(f"labels outside 0..{num_classes - 1} that are not {IGNORE_LABEL}")
    pairs = labels[valid] * num_classes + predictions[valid]
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores_from_confusion(matrix: np.ndarray) -> dict:
    """Mean IoU, per-class IoU and pixel accuracy from a confusion matrix.

    A class that is neither in the labels nor in the predictions has no IoU (NaN) and is
    left out of the mean, as Keras' MeanIoU does.

    Returns:
        {"mean_iou": float, "pixel_accuracy": float, "per_class_iou": list of floats}
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positives = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, true_positives / union, np.nan)
    total = matrix.sum()
    return {
        "mean_iou": float(np.nanmean(per_class)) if np.any(union > 0) else 0.0,
        "pixel_accuracy": float(true_positives.sum() / total) if total else 0.0,
        "per_class_iou": [float(value) for value in per_class],
    }
