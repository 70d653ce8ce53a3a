import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_deconvnet.data.augmentation import PhotometricDistortion
from keras_deconvnet.data.device_augmentation import (
    BRIGHTNESS_COIN,
    CONTRAST_COIN,
    FLIP,
    HUE_COIN,
    MIX,
    OFFSET_X,
    OFFSET_Y,
    SATURATION_COIN,
    SCALE,
    augment_batch,
    draw_shapes,
)
from keras_deconvnet.data.pipeline import training_pipeline

HEIGHT, WIDTH = 36, 48


def scene(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose red channel is the column and green the row, and masks of three bands of
    classes with an ignored corner, so that scale, crop, flip and padding all show in the statistics."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.stack([cols * 5, rows * 7, np.full_like(rows, 100)], axis=-1).astype(np.uint8)
    mask = np.minimum(cols // 16, 2).astype(np.uint8)
    mask[:6, :6] = 255
    return np.repeat(image[None], count, 0), np.repeat(mask[None], count, 0)


def device_batch(images, masks, draws, class_draws=None, **settings):
    sizes = np.array([images.shape[1:3]] * len(images), np.int32)
    class_draws = np.zeros((len(images), 3), np.float32) if class_draws is None else class_draws
    out_images, out_masks = augment_batch(images, masks, sizes, draws.astype(np.float32), class_draws, **settings)
    return keras.ops.convert_to_numpy(out_images), keras.ops.convert_to_numpy(out_masks)


def fixed_draws(count: int, **columns) -> np.ndarray:
    draws = np.full(draw_shapes(count, 3)[0], 0.99, np.float32)  # coins >= 0.5: nothing happens
    for column, value in columns.items():
        draws[:, globals()[column]] = value
    return draws


def test_scale_one_and_a_crop_of_the_whole_image_give_it_back_and_the_flip_mirrors_it(rng):
    images, masks = scene(rng, 2)
    settings = {"input_size": (HEIGHT, WIDTH), "scale_range": (1.0, 1.0), "photometric": False}
    same_images, same_masks = device_batch(images, masks, fixed_draws(2, OFFSET_Y=0.0, OFFSET_X=0.0), **settings)
    np.testing.assert_array_equal(same_images, images.astype(np.float32))
    np.testing.assert_array_equal(same_masks, masks)
    flipped_images, flipped_masks = device_batch(images, masks, fixed_draws(2, FLIP=0.0), **settings)
    np.testing.assert_array_equal(flipped_images, images[:, :, ::-1].astype(np.float32))
    np.testing.assert_array_equal(flipped_masks, masks[:, :, ::-1])


def test_twice_the_size_repeats_each_label_and_a_small_image_is_padded_with_ignore(rng):
    images, masks = scene(rng, 1)
    settings = {"input_size": (HEIGHT, WIDTH), "photometric": False}
    _, doubled = device_batch(images, masks, fixed_draws(1, OFFSET_Y=0.0, OFFSET_X=0.0), scale_range=(2.0, 2.0), **settings)
    np.testing.assert_array_equal(doubled, np.repeat(np.repeat(masks, 2, 1), 2, 2)[:, :HEIGHT, :WIDTH])
    halved_images, halved = device_batch(images, masks, fixed_draws(1, OFFSET_Y=0.0, OFFSET_X=0.0), scale_range=(0.5, 0.5), **settings)
    # Offset 0 of the range [scaled - crop, 0]: the image sits at the bottom right of the crop.
    assert (halved[:, : HEIGHT // 2] == 255).all() and (halved[:, :, : WIDTH // 2] == 255).all()
    assert (halved_images[:, : HEIGHT // 2] == 0).all()
    assert set(np.unique(halved[:, HEIGHT // 2 :, WIDTH // 2 :])) <= {0, 1, 2, 255}


def test_classmix_pastes_the_chosen_classes_of_the_previous_image_and_never_its_ignored_pixels(rng):
    images, masks = scene(rng, 2)
    masks[1] = 1  # the second image is all class 1
    class_draws = np.array([[0.9, 0.0, 0.9], [0.0, 0.9, 0.9]], np.float32)  # image 0 chooses class 1, image 1 class 0
    draws = fixed_draws(2, OFFSET_Y=0.0, OFFSET_X=0.0, MIX=0.0)
    settings = {"input_size": (HEIGHT, WIDTH), "scale_range": (1.0, 1.0), "photometric": False}
    _, mixed = device_batch(images, masks, draws, class_draws, mix="classmix", mix_probability=1.0, **settings)
    assert (mixed[0] == 1).all()  # every pixel of image 1 is class 1, which image 0 takes
    expected = np.where((masks[0] == 0), 0, masks[1])  # image 1 takes class 0 of image 0, not its 255 corner
    np.testing.assert_array_equal(mixed[1], expected)


def test_photometric_changes_the_colours_only_where_a_coin_says_so(rng):
    images, masks = scene(rng, 2)
    draws = fixed_draws(2, OFFSET_Y=0.0, OFFSET_X=0.0)
    draws[0, [BRIGHTNESS_COIN, CONTRAST_COIN, SATURATION_COIN, HUE_COIN]] = 0.0
    settings = {"input_size": (HEIGHT, WIDTH), "scale_range": (1.0, 1.0), "photometric": True}
    out, out_masks = device_batch(images, masks, draws, **settings)
    assert not np.allclose(out[0], images[0]) and 0 <= out.min() and out.max() <= 255
    np.testing.assert_allclose(out[1], images[1], atol=1e-3)  # no coin: unchanged
    np.testing.assert_array_equal(out_masks, masks)


def statistics(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Ignored share, class shares, mean colour of the labelled pixels, and mean column (red) of
    the left half against the right (the flips), over a stream of augmented crops."""
    labelled = masks != 255
    shares = [np.mean(masks == label) for label in (255, 0, 1, 2)]
    colour = images[labelled].mean(axis=0) / 255
    left, right = images[:, :, : images.shape[2] // 2, 0], images[:, :, images.shape[2] // 2 :, 0]
    return np.array([*shares, *colour, (right.mean() - left.mean()) / 255])


@pytest.mark.parametrize("photometric", [False, True])
def test_device_batches_have_the_statistics_of_the_tf_data_pipelines(photometric, rng):
    count, crop, scale_range = 1024, (32, 64), (0.75, 2.0)
    images, masks = scene(rng, count)
    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "segmentation_mask": masks[..., None]})
    pipeline = training_pipeline(
        dataset, num_classes=3, ignore_label=255, input_size=crop, batch_size=count, scale_range=scale_range,
        photometric=PhotometricDistortion() if photometric else None, seed=0,
    )
    tf_images, tf_masks = (array.numpy() for array in next(iter(pipeline)))
    draws = rng.random(draw_shapes(count, 3)[0])
    device_images, device_masks = device_batch(
        images, masks, draws, input_size=crop, scale_range=scale_range, photometric=photometric
    )
    np.testing.assert_allclose(statistics(device_images, device_masks), statistics(tf_images, tf_masks), atol=0.02)
