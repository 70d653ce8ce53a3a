"""ClassMix and CutMix: pasted pixels bring their labels, follow classes or a box, repeat under a seed."""

import numpy as np
import pytest
import tensorflow as tf

from keras_deconvnet.data.mixing import mix_batch
from keras_deconvnet.data.numpy_pipeline import TrainingBatches, mix_regions
from keras_deconvnet.data.pipeline import training_pipeline
from keras_deconvnet.errors import UsageError

NUM_CLASSES = 5


def labelled_batch(rng, count=6, size=(12, 16), ignore=True):
    """Image i is filled with the value 10 * (i + 1), so each output pixel names its source."""
    images = np.stack([np.full((*size, 3), 10.0 * (index + 1), np.float32) for index in range(count)])
    masks = rng.integers(0, NUM_CLASSES, size=(count, *size)).astype(np.int32)
    if ignore:
        masks[:, :2] = 255
    return images, masks


def pasted_from_previous(images, masks, mixed_images, mixed_masks):
    """Where each mixed image took the previous image's pixel; asserts the label came with it."""
    previous_images, previous_masks = np.roll(images, 1, axis=0), np.roll(masks, 1, axis=0)
    like_previous = np.all(mixed_images == previous_images, axis=-1)
    like_own = np.all(mixed_images == images, axis=-1)
    assert np.all(like_previous | like_own)  # no third source, no blend
    pasted, kept = like_previous & ~like_own, like_own & ~like_previous  # the pixels that tell
    np.testing.assert_array_equal(mixed_masks[pasted], previous_masks[pasted])
    np.testing.assert_array_equal(mixed_masks[kept], masks[kept])
    assert np.all((mixed_masks == masks) | (mixed_masks == previous_masks))
    assert not np.any(pasted & (previous_masks == 255))  # ignored pixels are never pasted
    return pasted


def assert_whole_classes(pasted, masks):
    previous = np.roll(masks, 1, axis=0)
    for index in range(len(masks)):
        for label in range(NUM_CLASSES):
            taken = pasted[index][previous[index] == label]
            assert taken.all() or not taken.any(), f"class {label} of image {index} was cut"


def assert_boxes(pasted):
    for region in pasted:
        if region.any():
            rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
            assert region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()


def mixed(images, masks, mode, probability=1.0, seed=0):
    seeds = tf.stack([tf.constant([seed, index], tf.int64) for index in range(len(images))])
    out = mix_batch(tf.constant(images), tf.constant(masks), seeds, mode=mode, probability=probability,
                    num_classes=NUM_CLASSES)
    return [value.numpy() for value in out]


def test_classmix_pastes_whole_classes_of_the_previous_image_with_their_labels(rng):
    images, masks = labelled_batch(rng)
    pasted = pasted_from_previous(images, masks, *mixed(images, masks, "classmix"))
    assert_whole_classes(pasted, masks)
    assert pasted.any() and not pasted.all()


def test_cutmix_pastes_a_box_with_its_labels(rng):
    images, masks = labelled_batch(rng, ignore=False)
    pasted = pasted_from_previous(images, masks, *mixed(images, masks, "cutmix"))
    assert_boxes(pasted)
    assert pasted.any()


def test_mixing_repeats_under_a_seed_and_respects_its_probability(rng):
    images, masks = labelled_batch(rng)
    first, again, other = (mixed(images, masks, "classmix", seed=seed)[1] for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    unchanged_images, unchanged_masks = mixed(images, masks, "cutmix", probability=1e-9)
    np.testing.assert_array_equal(unchanged_images, images)
    np.testing.assert_array_equal(unchanged_masks, masks)
    many_images, many_masks = labelled_batch(rng, count=200, size=(4, 4), ignore=False)
    half_images, _ = mixed(many_images, many_masks, "cutmix", probability=0.5)
    mixed_share = np.mean(np.any(half_images != many_images, axis=(1, 2, 3)))
    assert 0.35 < mixed_share < 0.65  # a fixed draw: the seeds make it the same every run


def dataset(rng, count=8, size=(30, 40)):
    return tf.data.Dataset.from_tensor_slices({
        "image": rng.integers(0, 256, size=(count, *size, 3), dtype="uint8"),
        "segmentation_mask": rng.integers(0, NUM_CLASSES, size=(count, *size, 1), dtype="uint8"),
    })


def first_batch(data, seed=5, **settings):
    """Scaled up only: no padding, so every pixel of a pasted box can be seen to be pasted."""
    pipeline = training_pipeline(
        data, num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32), batch_size=4, seed=seed,
        scale_range=(1.0, 2.0), **settings
    )
    return [value.numpy() for value in next(iter(pipeline))]


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("mode", ["classmix", "cutmix"])
def test_the_pipeline_mixes_its_own_augmented_batch(rng, mode, seed):
    data = dataset(rng)
    images, masks = first_batch(data, seed)
    mixed_images, mixed_masks = first_batch(data, seed, mix=mode, mix_probability=1.0)
    pasted = pasted_from_previous(images, masks, mixed_images, mixed_masks)
    assert pasted.any()
    if mode == "classmix":
        assert_whole_classes(pasted, masks)
    else:
        assert_boxes(pasted)
    again_images, _ = first_batch(data, seed, mix=mode, mix_probability=1.0)
    np.testing.assert_array_equal(again_images, mixed_images)


def test_a_resumed_pipeline_mixes_as_the_uninterrupted_one(rng):
    data = dataset(rng)
    settings = dict(num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32), batch_size=4, seed=5,
                    mix="classmix", mix_probability=1.0)
    stream = training_pipeline(data, **settings, repeat=True)
    resumed = training_pipeline(data, **settings, first_epoch=1)
    expected = list(stream.skip(2).take(2))  # epoch 1 (two batches of 4 of the 8 images)
    for (images, masks), (want_images, want_masks) in zip(resumed, expected, strict=True):
        np.testing.assert_array_equal(images.numpy(), want_images.numpy())
        np.testing.assert_array_equal(masks.numpy(), want_masks.numpy())


@pytest.mark.parametrize(
    ("settings", "words"),
    [({"mix": "mixup"}, "mix must be"), ({"mix_probability": 0}, "mix_probability"),
     ({"mix": "cutmix", "batch_size": 1}, "a batch of at least 2")],
)
def test_a_bad_mix_is_one_clear_error(rng, settings, words):
    settings = {**dict(num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32), batch_size=4), **settings}
    with pytest.raises(UsageError, match=words):
        training_pipeline(dataset(rng), **settings)
    with pytest.raises(UsageError, match=words):
        TrainingBatches([np.zeros((30, 40, 3), np.uint8)] * 4, [np.zeros((30, 40), np.uint8)] * 4, **settings)


@pytest.mark.parametrize("mode", ["none", "mixup"])
def test_both_mixers_refuse_a_mode_that_does_not_mix_with_one_message(rng, mode):
    images, masks = labelled_batch(rng)
    words = f"mix mode must be one of classmix, cutmix, got '{mode}'"
    with pytest.raises(UsageError, match=words):
        mixed(images, masks, mode)
    with pytest.raises(UsageError, match=words):
        mix_regions(masks, mode, 1.0, NUM_CLASSES, np.random.default_rng(0))


@pytest.mark.parametrize("mode", ["classmix", "cutmix"])
def test_numpy_regions_follow_classes_or_a_box_and_skip_ignored_pixels(rng, mode):
    _, masks = labelled_batch(rng, ignore=mode == "classmix")
    pasted = mix_regions(masks, mode, 1.0, NUM_CLASSES, np.random.default_rng(0))
    assert pasted.any() and not np.any(pasted & (np.roll(masks, 1, axis=0) == 255))
    if mode == "classmix":
        assert_whole_classes(pasted, masks)
    else:
        assert_boxes(pasted)


@pytest.mark.parametrize("mode", ["classmix", "cutmix"])
def test_numpy_batches_mix_their_own_augmented_batch(rng, mode):
    images = [rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8) for _ in range(8)]
    masks = [rng.integers(0, NUM_CLASSES, size=(30, 40), dtype=np.uint8) for _ in range(8)]
    settings = dict(num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32), batch_size=4, seed=1,
                    scale_range=(1.0, 2.0))  # no padding, as first_batch
    plain_images, plain_masks = TrainingBatches(images, masks, **settings)[0]
    mixed_images, mixed_masks = TrainingBatches(images, masks, **settings, mix=mode, mix_probability=1.0)[0]
    pasted = pasted_from_previous(plain_images, plain_masks, mixed_images, mixed_masks)
    assert pasted.any()
    if mode == "classmix":
        assert_whole_classes(pasted, plain_masks)
    else:
        assert_boxes(pasted)
