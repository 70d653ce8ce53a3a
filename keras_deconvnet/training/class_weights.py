"""Per-class loss weights from `--class-weights`: none, SegNet's median frequency, or numbers.

Rare classes (poles, signs) cover few pixels; weighting them keeps the loss from ignoring them.
"""

import numpy as np

from keras_deconvnet.errors import UsageError


def median_frequency_weights(masks, num_classes: int) -> list[float]:
    """SegNet's class weights: median class frequency / class frequency.

    A class's frequency is its pixel count over the pixels of the images it appears in.

    Args:
        masks: an iterable of integer masks with 255 ignored.
        num_classes: C.
    """
    pixels = np.zeros(num_classes)
    image_pixels = np.zeros(num_classes)
    for mask in masks:
        counts = np.bincount(np.asarray(mask).reshape(-1), minlength=256)[:num_classes]
        pixels += counts
        image_pixels += (counts > 0) * counts.sum()
    frequency = np.divide(pixels, image_pixels, out=np.zeros(num_classes), where=image_pixels > 0)
    median = np.median(frequency[frequency > 0])
    weights = np.divide(median, frequency, out=np.zeros(num_classes), where=frequency > 0)
    return [round(float(w), 4) for w in weights]


def parse_class_weights(text: str, num_classes: int, training_masks) -> list[float] | None:
    """'none', 'median-frequency', 'sqrt-median-frequency' or C comma-separated numbers.

    Median-frequency weights (SegNet's) maximise the mean class accuracy; on CamVid they
    weigh a pole 24 times a building, and the false poles, signs and fences they buy cost
    more IoU than they gain. Their square roots keep rare classes heard at a fifth of the
    contrast.
    """
    if text == "none":
        return None
    if text in ("median-frequency", "sqrt-median-frequency"):
        weights = median_frequency_weights(training_masks(), num_classes)
        return weights if text == "median-frequency" else [round(w**0.5, 4) for w in weights]
    try:
        weights = [float(value) for value in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != num_classes:
        raise UsageError(
            f"--class-weights must be none, median-frequency, sqrt-median-frequency or "
            f"{num_classes} comma-separated numbers, got '{text}'"
        )
    if not all(0 <= weight < float("inf") for weight in weights) or not any(weights):  # nan fails the first
        raise UsageError(
            f"--class-weights must be finite numbers of at least 0, not all 0 (a class's weight in the loss), "
            f"got '{text}'"
        )
    return weights
