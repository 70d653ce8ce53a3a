"""The photometric distortion: images only, 0..255, repeatable under a seed."""

import numpy as np
import tensorflow as tf

from keras_deconvnet.data.augmentation import PhotometricDistortion
from keras_deconvnet.data.pipeline import training_pipeline

NUM_CLASSES = 5


def dataset(rng, count=8, size=(30, 40)):
    return tf.data.Dataset.from_tensor_slices({
        "image": rng.integers(0, 256, size=(count, *size, 3), dtype="uint8"),
        "segmentation_mask": rng.integers(0, NUM_CLASSES, size=(count, *size, 1), dtype="uint8"),
    })


def first_batch(data, photometric, seed=0):
    pipeline = training_pipeline(
        data, num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32), batch_size=4,
        photometric=photometric, seed=seed,
    )
    images, masks = next(iter(pipeline))
    return images.numpy(), masks.numpy()


def test_photometric_changes_images_only_and_keeps_them_in_range(rng):
    data = dataset(rng)
    plain_images, plain_masks = first_batch(data, None)
    images, masks = first_batch(data, PhotometricDistortion())
    np.testing.assert_array_equal(masks, plain_masks)  # the geometric draws are the same
    assert images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 255.0
    assert not np.allclose(images, plain_images)


def test_photometric_is_repeatable_under_a_seed(rng):
    data = dataset(rng)
    first, _ = first_batch(data, PhotometricDistortion(), seed=7)
    again, _ = first_batch(data, PhotometricDistortion(), seed=7)
    other, _ = first_batch(data, PhotometricDistortion(), seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_photometric_stays_in_range_even_for_saturated_images():
    distort = PhotometricDistortion(brightness=64, contrast=(2.0, 3.0), saturation=(2.0, 3.0))
    image = tf.constant(np.tile([[[255.0, 0.0, 128.0]]], (6, 6, 1)), tf.float32)
    for seed in range(20):
        out = distort(image, tf.constant([seed, 1])).numpy()
        assert 0.0 <= out.min() and out.max() <= 255.0


def test_photometric_of_a_grey_image_changes_no_hue(rng):
    """Saturation and hue act on colour only: a grey image stays grey whatever is drawn."""
    grey = np.repeat(rng.uniform(0, 255, size=(8, 8, 1)), 3, axis=-1).astype("float32")
    for seed in range(10):
        out = PhotometricDistortion()(tf.constant(grey), tf.constant([seed, 0])).numpy()
        np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)
        np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-3)
