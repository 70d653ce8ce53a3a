"""OHEM, Lovász-softmax and their mix against values worked out by hand on tiny arrays."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deconvnet import UsageError
from keras_deconvnet.losses import (
    LOSS_NAMES,
    CrossEntropyLovasz,
    LovaszSoftmax,
    OhemCrossEntropy,
    SegmentationCrossEntropy,
    build_loss,
)


def two_class_logits(probabilities_of_class_0):
    """(1, 1, N, 2) logits whose softmax is (p, 1 - p) for each pixel."""
    p = np.asarray(probabilities_of_class_0, "float64")
    return np.log(np.stack([p, 1 - p], axis=-1))[None, None].astype("float32")


# Three pixels, labels 0, 0, 1, probabilities of class 0: 0.9, 0.4, 0.3.
# Class 0: errors |fg - p| = 0.1, 0.6, 0.3; sorted 0.6 (fg), 0.3 (bg), 0.1 (fg); with 2
#   foreground pixels the Jaccard losses are 1/2, 2/3, 1, so the gradient is 1/2, 1/6, 1/3
#   and the class's loss 0.6/2 + 0.3/6 + 0.1/3 = 0.38333.
# Class 1: errors 0.1, 0.6, 0.3; sorted 0.6 (bg), 0.3 (fg), 0.1 (bg); Jaccard losses 1/2,
#   1, 1, gradient 1/2, 1/2, 0: 0.3 + 0.15 = 0.45.
LABELS = np.array([[[0, 0, 1]]])
LOGITS = two_class_logits([0.9, 0.4, 0.3])
CLASS_LOSSES = (0.6 / 2 + 0.3 / 6 + 0.1 / 3, 0.6 / 2 + 0.3 / 2)


def value(loss, labels, logits) -> float:
    return float(loss(labels, logits))


def test_lovasz_matches_the_hand_computed_example():
    assert value(LovaszSoftmax(pixel_stride=1), LABELS, LOGITS) == pytest.approx(
        np.mean(CLASS_LOSSES), rel=1e-5
    )


def test_lovasz_ignores_pixels_and_absent_classes_and_takes_class_weights():
    labels = np.array([[[0, 255, 0, 1, 255]]])
    logits = two_class_logits([0.9, 0.01, 0.4, 0.3, 0.99])
    loss = LovaszSoftmax(pixel_stride=1)
    assert value(loss, labels, logits) == pytest.approx(np.mean(CLASS_LOSSES), rel=1e-5)
    weighted = LovaszSoftmax([1.0, 3.0], pixel_stride=1)
    expected = (CLASS_LOSSES[0] + 3 * CLASS_LOSSES[1]) / 4
    assert value(weighted, labels, logits) == pytest.approx(expected, rel=1e-5)
    # Only class 0 present: errors 0.1, 0.6 of two foreground pixels, Jaccard 1/2 then 1.
    only_zero = np.array([[[0, 0]]])
    assert value(loss, only_zero, two_class_logits([0.9, 0.4])) == pytest.approx(
        0.6 * 0.5 + 0.1 * 0.5, rel=1e-5
    )


def test_lovasz_pixel_stride_reads_every_nth_row_and_column(rng):
    logits = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(2, 8, 8))
    strided = value(LovaszSoftmax(pixel_stride=4), labels, logits)
    assert strided == pytest.approx(
        value(LovaszSoftmax(pixel_stride=1), labels[:, 2::4, 2::4], logits[:, 2::4, 2::4]), rel=1e-6
    )


def test_ohem_keeps_the_hard_pixels_and_at_least_min_kept():
    # True-class probabilities 0.9, 0.5, 0.2, 0.8 (all labelled 0) and one ignored pixel.
    labels = np.array([[[0, 0, 0, 0, 255]]])
    logits = two_class_logits([0.9, 0.5, 0.2, 0.8, 0.01])
    # min_kept 1: the second-hardest probability is 0.5 < 0.7, so 0.7 decides:
    # pixels 0.5 and 0.2 are kept.
    loss = OhemCrossEntropy(threshold=0.7, min_kept=1)
    assert value(loss, labels, logits) == pytest.approx(-(np.log(0.5) + np.log(0.2)) / 2, rel=1e-5)
    # min_kept 3: the threshold rises to the 4th smallest probability, 0.9: three are kept.
    loss = OhemCrossEntropy(threshold=0.7, min_kept=3)
    expected = -(np.log(0.8) + np.log(0.5) + np.log(0.2)) / 3
    assert value(loss, labels, logits) == pytest.approx(expected, rel=1e-5)
    # Class weights give the weighted mean of the kept pixels.
    labels = np.array([[[0, 1]]])
    logits = two_class_logits([0.5, 0.8])  # true-class probabilities 0.5 and 0.2
    loss = OhemCrossEntropy([1.0, 3.0], threshold=0.7, min_kept=0)
    expected = -(np.log(0.5) + 3 * np.log(0.2)) / 4
    assert value(loss, labels, logits) == pytest.approx(expected, rel=1e-5)


def test_ohem_with_everything_kept_is_cross_entropy(rng):
    logits = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(2, 4, 4))
    labels[0, 0] = 255
    assert value(OhemCrossEntropy(threshold=1.01), labels, logits) == pytest.approx(
        value(SegmentationCrossEntropy(), labels, logits), rel=1e-5
    )


def test_cross_entropy_plus_lovasz_is_their_sum_with_weights_on_cross_entropy_only(rng):
    logits = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(2, 8, 8))
    weights = [0.5, 1.0, 2.0]
    expected = value(SegmentationCrossEntropy(weights), labels, logits) + value(
        LovaszSoftmax(), labels, logits
    )
    assert value(CrossEntropyLovasz(weights), labels, logits) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_gives_zero_and_no_gradient_on_an_all_ignored_batch(rng, name):
    logits = tf.Variable(rng.normal(size=(2, 8, 8, 3)).astype("float32"))
    labels = np.full((2, 8, 8), 255)
    with tf.GradientTape() as tape:
        loss = build_loss(name, [1.0, 2.0, 3.0])(labels, logits)
    gradient = tape.gradient(loss, logits)
    assert float(loss) == 0.0
    assert gradient is None or np.all(gradient.numpy() == 0.0)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_has_a_finite_gradient_and_a_config_that_round_trips(rng, name):
    logits = tf.Variable(rng.normal(size=(2, 8, 8, 3)).astype("float32"))
    labels = rng.integers(0, 3, size=(2, 8, 8))
    labels[:, 0] = 255
    loss = build_loss(name, [1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        result = loss(labels, logits)
    gradient = tape.gradient(result, logits).numpy()
    assert np.isfinite(float(result)) and float(result) > 0
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)
    assert np.all(gradient[:, 0] == 0)  # ignored pixels get no gradient
    restored = type(loss).from_config(loss.get_config())
    assert value(restored, labels, logits.numpy()) == pytest.approx(float(result), rel=1e-6)


def test_unknown_loss_or_a_bad_stride_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown loss 'dice'"):
        build_loss("dice")
    with pytest.raises(UsageError, match="pixel_stride"):
        LovaszSoftmax(pixel_stride=0)
