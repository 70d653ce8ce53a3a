"""Per-class loss weights from `--class-weights`: none, SegNet's median frequency, ENet's, or numbers.

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


def enet_weights(masks, num_classes: int, c: float = 1.10) -> list[float]:
    """ENet's class weights, 1 / ln(c + p), p being a class's share of all labelled pixels.

    They are bounded by 1 / ln(c) (10.5 for the 1.10 DABNet and CGNet use on CamVid), so a
    rare class weighs at most about 5 times a common one.

    Args:
        masks: an iterable of integer masks with 255 ignored.
        num_classes: C.
        c: the constant; ENet's paper has 1.02.
    """
    pixels = np.zeros(num_classes)
    for mask in masks:
        pixels += np.bincount(np.asarray(mask).reshape(-1), minlength=256)[:num_classes]
    share = pixels / max(pixels.sum(), 1)
    return [round(float(1 / np.log(c + p)), 4) for p in share]


NAMED_WEIGHTS = ("none", "median-frequency", "sqrt-median-frequency", "enet")


def parse_class_weights(text: str, num_classes: int, training_masks) -> list[float] | None:
    """'none', 'median-frequency', 'sqrt-median-frequency', 'enet' or C comma-separated numbers.

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
    if text == "enet":
        return enet_weights(training_masks(), num_classes)
    try:
        weights = [float(value) for value in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != num_classes:
        raise UsageError(
            f"--class-weights must be none, median-frequency, sqrt-median-frequency, enet or "
            f"{num_classes} comma-separated numbers, got '{text}'"
        )
    if not all(0 <= weight < float("inf") for weight in weights) or not any(weights):  # nan fails the first
        raise UsageError(
            f"--class-weights must be finite numbers of at least 0, not all 0 (a class's weight in the loss), "
            f"got '{text}'"
        )
    return weights
