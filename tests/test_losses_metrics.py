import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_deconvnet.losses import SegmentationCrossEntropy
from keras_deconvnet.evaluation.metrics import confusion_matrix, mean_iou_metric, scores_from_confusion


def numpy_cross_entropy(labels, logits, weights=None):
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    valid = labels != 255
    safe = np.where(valid, labels, 0)
    pixel = -np.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    w = valid.astype(float) * (1.0 if weights is None else np.asarray(weights)[safe])
    return (pixel * w).sum() / w.sum()


def test_cross_entropy_skips_ignored_pixels(rng):
    logits = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(2, 4, 5))
    labels[0, :2] = 255
    loss = float(SegmentationCrossEntropy()(labels, logits))
    assert loss == pytest.approx(numpy_cross_entropy(labels, logits), rel=1e-5)
    # changing the logits of ignored pixels changes nothing
    changed = logits.copy()
    changed[0, :2] += 100.0
    assert float(SegmentationCrossEntropy()(labels, changed)) == pytest.approx(loss, rel=1e-6)


def test_cross_entropy_class_weights_give_the_weighted_mean(rng):
    logits = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(1, 6, 6))
    labels[0, 0] = 255
    weights = [0.5, 2.0, 1.5]
    loss = float(SegmentationCrossEntropy(weights)(labels, logits))
    assert loss == pytest.approx(numpy_cross_entropy(labels, logits, weights), rel=1e-5)


def test_all_ignored_batch_gives_a_finite_loss_and_no_gradient(rng):
    logits = tf.Variable(rng.normal(size=(2, 4, 4, 3)).astype("float32"))
    labels = np.full((2, 4, 4), 255)
    with tf.GradientTape() as tape:
        loss = SegmentationCrossEntropy([1.0, 2.0, 3.0])(labels, logits)
    gradient = tape.gradient(loss, logits)
    assert np.isfinite(float(loss)) and float(loss) == 0.0
    assert np.all(gradient.numpy() == 0.0)


def test_loss_config_round_trips():
    loss = SegmentationCrossEntropy([1.0, 2.0])
    restored = SegmentationCrossEntropy.from_config(loss.get_config())
    assert restored.class_weights == [1.0, 2.0] and restored.ignore_label == 255


def test_scores_match_a_hand_computed_example_with_ignored_pixels():
    labels = np.array([[0, 0, 1], [1, 2, 255], [2, 2, 255]])
    predictions = np.array([[0, 1, 1], [1, 2, 0], [0, 2, 2]])
    matrix = confusion_matrix(labels, predictions, 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    scores = scores_from_confusion(matrix)
    # IoU: class 0: 1/(2+2-1)=1/3, class 1: 2/(2+3-2)=2/3, class 2: 2/(3+2-2)=2/3
    np.testing.assert_allclose(scores["per_class_iou"], [1 / 3, 2 / 3, 2 / 3])
    assert scores["mean_iou"] == pytest.approx(5 / 9)
    assert scores["pixel_accuracy"] == pytest.approx(5 / 7)


def test_absent_classes_are_left_out_of_the_mean():
    scores = scores_from_confusion(confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 1]), 4))
    assert scores["mean_iou"] == 1.0
    assert np.isnan(scores["per_class_iou"][3])


def test_confusion_matrix_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_keras_mean_iou_accumulates_the_same_confusion_matrix_over_batches(rng):
    metric = mean_iou_metric(4)
    total = np.zeros((4, 4), dtype=np.int64)
    for _ in range(3):
        logits = rng.normal(size=(2, 5, 5, 4)).astype("float32")
        labels = rng.integers(0, 4, size=(2, 5, 5))
        labels[:, 0] = 255
        metric.update_state(labels, logits)
        total += confusion_matrix(labels, logits.argmax(-1), 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(metric.total_cm), total)
    assert float(metric.result()) == pytest.approx(scores_from_confusion(total)["mean_iou"], rel=1e-6)
