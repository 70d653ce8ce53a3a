import numpy as np
import pytest
import tensorflow as tf

from keras_deconvnet import UsageError
from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.augmentation import random_crop, random_flip, random_scale, resize_pair
from keras_deconvnet.data.pipeline import evaluation_pipeline, training_pipeline

NUM_CLASSES = 7
SIGNATURE = {
    "image": tf.TensorSpec((None, None, 3), tf.uint8),
    "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
    "file_name": tf.TensorSpec((), tf.string),
}


def features_dataset(images, masks) -> tf.data.Dataset:
    """Feature dicts as the dataset builders yield them; images may differ in size."""
    def generate():
        for index, (image, mask) in enumerate(zip(images, masks)):
            yield {"image": image, "segmentation_mask": mask, "file_name": f"image_{index}.jpg"}
    return tf.data.Dataset.from_generator(generate, output_signature=SIGNATURE)


def label_blocks(rng, height, width, block=4, borders=True):
    """A mask of label blocks covering every class, with 255 borders between blocks."""
    coarse = rng.integers(0, NUM_CLASSES, size=(-(-height // block), -(-width // block)))
    mask = np.kron(coarse, np.ones((block, block), int))[:height, :width]
    if borders:
        edge = np.zeros(mask.shape, bool)
        edge[1:] |= mask[1:] != mask[:-1]
        edge[:, 1:] |= mask[:, 1:] != mask[:, :-1]
        mask = np.where(edge, IGNORE_LABEL, mask)
    return mask[..., None].astype("uint8")


def pattern_pair(rng, height, width):
    """Image channel 0 is the label, channel 1 the row, channel 2 the column."""
    labels = rng.integers(0, NUM_CLASSES, size=(height, width, 1)).astype("uint8")
    rows, cols = np.mgrid[:height, :width].astype("uint8")
    image = np.concatenate([labels, rows[..., None], cols[..., None]], axis=-1)
    return image, labels


def batches(dataset):
    return [(images.numpy(), masks.numpy()) for images, masks in dataset]


@pytest.mark.slow
def test_augmentation_keeps_masks_integer_and_within_the_labels(rng):
    sizes = [(30, 50), (70, 40)] * 6
    images = [rng.integers(0, 256, size=(h, w, 3), dtype="uint8") for h, w in sizes]
    masks = [label_blocks(rng, *image.shape[:2]) for image in images]
    allowed = set(range(NUM_CLASSES)) | {IGNORE_LABEL}
    for scale_range in [(0.5, 2.0), (0.3, 0.3), (2.7, 2.7)]:
        for seed in range(3):
            pipeline = training_pipeline(
                features_dataset(images, masks), num_classes=NUM_CLASSES, ignore_label=255,
                input_size=(32, 48), batch_size=4, scale_range=scale_range, seed=seed,
            )
            seen = set()
            for _, mask in batches(pipeline):
                assert mask.dtype == np.int32
                seen |= set(np.unique(mask).tolist())
            assert seen <= allowed, (scale_range, seed, seen - allowed)
            assert len(seen) >= 4


def test_random_scale_resizes_masks_with_nearest_only(rng):
    mask = label_blocks(rng, 32, 48, block=8, borders=False).astype("int32")
    image = np.repeat(mask, 3, axis=-1).astype("uint8")
    sizes = set()
    for seed in range(20):
        scaled_image, scaled_mask = random_scale(image, mask, (0.5, 2.0), tf.constant([seed, 1]))
        scaled_image, scaled_mask = scaled_image.numpy(), scaled_mask.numpy()
        sizes.add(scaled_mask.shape)
        assert scaled_image.dtype == np.float32 and scaled_mask.dtype == np.int32
        assert scaled_image.shape[:2] == scaled_mask.shape[:2]
        assert 16 <= scaled_mask.shape[0] <= 64 and 24 <= scaled_mask.shape[1] <= 96
        assert set(np.unique(scaled_mask)) <= set(np.unique(mask))
        # Inside a block (mask constant over the 3x3 neighbourhood) bilinear agrees with nearest.
        label = scaled_mask[..., 0]
        window = np.lib.stride_tricks.sliding_window_view(np.pad(label, 1, mode="edge"), (3, 3))
        inside = (window == label[..., None, None]).all(axis=(-1, -2))
        assert inside.mean() > 0.2
        np.testing.assert_allclose(scaled_image[..., 0][inside], label[inside], atol=1e-3)
    assert len(sizes) > 5


def test_crop_and_flip_move_image_and_mask_together(rng):
    """Pixel-exact: image channel 0 equals the mask wherever the mask is not padding."""
    pairs = [pattern_pair(rng, 40, 60) for _ in range(16)]
    pipeline = training_pipeline(
        features_dataset(*zip(*pairs)), num_classes=NUM_CLASSES, ignore_label=255,
        input_size=(48, 32), batch_size=4, scale_range=(1.0, 1.0), pad_value=200.0, seed=0,
    )
    directions = set()
    for images, masks in batches(pipeline):
        for image, mask in zip(images, masks):
            valid = mask != IGNORE_LABEL
            np.testing.assert_array_equal(image[..., 0][valid], mask[valid])
            assert (image[~valid] == 200.0).all()
            assert (~valid).all(axis=1).sum() == 8  # 40 rows padded to 48: 8 rows of padding
            rows, cols = image[valid][:, 1].reshape(40, 32), image[valid][:, 2].reshape(40, 32)
            np.testing.assert_array_equal(np.diff(rows, axis=0), 1)  # a window of whole rows
            steps = np.unique(np.diff(cols, axis=1))
            assert steps.tolist() in ([1.0], [-1.0])  # contiguous columns, flipped or not
            directions.add(steps[0])
    assert directions == {1.0, -1.0}


def test_random_crop_pads_masks_with_the_ignore_label(rng):
    mask = rng.integers(0, NUM_CLASSES, size=(10, 12, 1)).astype("int32")
    image = rng.integers(0, 256, size=(10, 12, 3)).astype("float32")
    for seed in range(5):
        cropped_image, cropped_mask = random_crop(image, mask, (16, 8), 0.0, tf.constant([seed, 0]))
        cropped_image, cropped_mask = cropped_image.numpy(), cropped_mask.numpy()
        assert cropped_image.shape == (16, 8, 3) and cropped_mask.shape == (16, 8, 1)
        padded = cropped_mask[..., 0] == IGNORE_LABEL
        assert padded.sum() == 6 * 8
        assert (cropped_image[padded] == 0.0).all()


def test_random_flip_flips_image_and_mask_together(rng):
    image, mask = pattern_pair(rng, 5, 9)
    outcomes = []
    for seed in range(16):
        flipped_image, flipped_mask = random_flip(image, mask, tf.constant([seed, 2]))
        flipped_image, flipped_mask = flipped_image.numpy(), flipped_mask.numpy()
        np.testing.assert_array_equal(flipped_image[..., :1], flipped_mask)
        outcomes.append(bool(flipped_image[0, 0, 2] == 8))
        expected = image[:, ::-1] if outcomes[-1] else image
        np.testing.assert_array_equal(flipped_image, expected)
    assert any(outcomes) and not all(outcomes)


def test_resize_pair_keeps_mask_dtype_and_labels(rng):
    mask = label_blocks(rng, 20, 20).astype("int32")
    image = rng.integers(0, 256, size=(20, 20, 3)).astype("uint8")
    resized_image, resized_mask = resize_pair(image, mask, (33, 17))
    assert resized_image.dtype == tf.float32 and resized_mask.dtype == tf.int32
    assert resized_image.shape == (33, 17, 3) and resized_mask.shape == (33, 17, 1)
    assert set(np.unique(resized_mask)) <= set(np.unique(mask))


def test_dataset_ignore_label_becomes_255(rng):
    mask = rng.integers(0, 12, size=(16, 16, 1)).astype("uint8")  # CamVid: 11 classes, 11 = void
    image = rng.integers(0, 256, size=(16, 16, 3)).astype("uint8")
    for pipeline in [
        evaluation_pipeline(features_dataset([image], [mask]), num_classes=11, ignore_label=11,
                            input_size=None, batch_size=1, mode="original"),
        training_pipeline(features_dataset([image], [mask]), num_classes=11, ignore_label=11,
                          input_size=(16, 16), batch_size=1, scale_range=(1.0, 1.0), flip=False),
    ]:
        [(_, out)] = batches(pipeline)
        np.testing.assert_array_equal(out[0] == IGNORE_LABEL, mask[..., 0] == 11)
        np.testing.assert_array_equal(out[0][mask[..., 0] != 11], mask[..., 0][mask[..., 0] != 11])


@pytest.mark.parametrize("ignore_label, stray", [(255, 7), (11, 255)])
def test_labels_outside_the_classes_fail_loudly(rng, ignore_label, stray):
    mask = rng.integers(0, NUM_CLASSES, size=(16, 16, 1)).astype("uint8")
    mask[3, 4] = stray
    image = np.zeros((16, 16, 3), "uint8")
    for pipeline in [
        training_pipeline(features_dataset([image], [mask]), num_classes=NUM_CLASSES,
                          ignore_label=ignore_label, input_size=(8, 8), batch_size=1),
        evaluation_pipeline(features_dataset([image], [mask]), num_classes=NUM_CLASSES,
                            ignore_label=ignore_label, input_size=(8, 8), batch_size=1),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"label >= num_classes \(7\)"):
            batches(pipeline)


def test_evaluation_modes_give_the_right_shapes_and_are_deterministic(rng):
    sizes = [(40, 60), (20, 30), (50, 20)]
    images = [rng.integers(0, 256, size=(h, w, 3), dtype="uint8") for h, w in sizes]
    masks = [label_blocks(rng, h, w, borders=False) for h, w in sizes]

    def run(mode, input_size, batch_size):
        pipeline = evaluation_pipeline(
            features_dataset(images, masks), num_classes=NUM_CLASSES, ignore_label=255,
            input_size=input_size, batch_size=batch_size, mode=mode,
        )
        first, second = batches(pipeline), batches(pipeline)
        for (image_a, mask_a), (image_b, mask_b) in zip(first, second, strict=True):
            np.testing.assert_array_equal(image_a, image_b)
            np.testing.assert_array_equal(mask_a, mask_b)
        for images_out, masks_out in first:
            assert images_out.dtype == np.float32 and masks_out.dtype == np.int32
        return first

    original = run("original", None, batch_size=4)
    assert [images_out.shape for images_out, _ in original] == [(1, h, w, 3) for h, w in sizes]
    for (images_out, masks_out), image, mask in zip(original, images, masks):
        np.testing.assert_array_equal(images_out[0], image)
        np.testing.assert_array_equal(masks_out[0], mask[..., 0])

    [(images_out, masks_out)] = run("resize", (32, 32), batch_size=4)
    assert images_out.shape == (3, 32, 32, 3) and masks_out.shape == (3, 32, 32)

    padded = run("pad", (32, 48), batch_size=2)
    assert [masks_out.shape for _, masks_out in padded] == [(2, 32, 48), (1, 32, 48)]
    masks_out = np.concatenate([masks_out for _, masks_out in padded])
    images_out = np.concatenate([images_out for images_out, _ in padded])
    assert (masks_out[0] != IGNORE_LABEL).all()  # 40x60 scaled by 0.8 fills 32x48
    np.testing.assert_array_equal(masks_out[1, :20, :30], masks[1][..., 0])  # fits: kept as is
    np.testing.assert_array_equal(images_out[1, :20, :30], images[1])
    assert (masks_out[1, 20:] == IGNORE_LABEL).all()
    assert (masks_out[1, :, 30:] == IGNORE_LABEL).all()
    assert (images_out[1, 20:] == 0).all()
    assert (masks_out[2, :, :13] != IGNORE_LABEL).all()  # 50x20 scaled by 0.64 to 32x13
    assert (masks_out[2, :, 13:] == IGNORE_LABEL).all()


@pytest.mark.slow
def test_training_pipeline_is_repeatable_under_a_seed_and_batches_correctly(rng):
    dataset = tf.data.Dataset.from_tensor_slices({
        "image": rng.integers(0, 256, size=(10, 30, 40, 3), dtype="uint8"),
        "segmentation_mask": np.stack([label_blocks(rng, 30, 40) for _ in range(10)]),
    })

    def build(seed, repeat=False, first_epoch=0):
        return training_pipeline(
            dataset, num_classes=NUM_CLASSES, ignore_label=255, input_size=(24, 32),
            batch_size=4, seed=seed, repeat=repeat, first_epoch=first_epoch,
        )

    pipeline = build(seed=3)
    assert int(pipeline.cardinality()) == 2  # 10 elements, batches of 4, the remainder dropped
    first, second_epoch = batches(pipeline), batches(build(seed=3, first_epoch=1))
    assert len(first) == 2
    for images_out, masks_out in first:
        assert images_out.shape == (4, 24, 32, 3) and images_out.dtype == np.float32
        assert masks_out.shape == (4, 24, 32) and masks_out.dtype == np.int32
        assert 0 <= images_out.min() and images_out.max() <= 255
    for _ in range(2):  # the same batches on every pass and every rebuild
        for (image_a, mask_a), (image_b, mask_b) in zip(first, batches(build(seed=3)), strict=True):
            np.testing.assert_array_equal(image_a, image_b)
            np.testing.assert_array_equal(mask_a, mask_b)
    assert not np.array_equal(first[0][0], second_epoch[0][0])  # each epoch augments anew
    assert not np.array_equal(first[0][0], batches(build(seed=4))[0][0])
    assert not np.array_equal(batches(build(seed=None))[0][0], batches(build(seed=None))[0][0])
    repeated = build(seed=3, repeat=True)
    assert repeated.cardinality() == tf.data.INFINITE_CARDINALITY
    stream = batches(repeated.take(6))
    assert len(stream) == 6  # each epoch's remainder dropped: epoch e is batches 2e and 2e + 1
    # An endless stream is the epochs one after another, so a run resumed at epoch k (its
    # stream started with first_epoch=k) sees what the uninterrupted run saw there.
    for (image_a, mask_a), (image_b, mask_b) in zip(stream[2:6], second_epoch + batches(build(seed=3, first_epoch=2)), strict=True):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(mask_a, mask_b)
    resumed = batches(build(seed=3, repeat=True, first_epoch=1).take(2))
    np.testing.assert_array_equal(resumed[0][0], stream[2][0])


def test_bad_arguments_raise_usage_errors():
    dataset = features_dataset([], [])
    with pytest.raises(UsageError, match="mode must be one of"):
        evaluation_pipeline(dataset, num_classes=3, ignore_label=255, input_size=(8, 8),
                            batch_size=1, mode="crop")
    with pytest.raises(UsageError, match="input_size"):
        evaluation_pipeline(dataset, num_classes=3, ignore_label=255, input_size=None, batch_size=1)
    with pytest.raises(UsageError, match="num_classes"):
        training_pipeline(dataset, num_classes=256, ignore_label=255, input_size=(8, 8),
                          batch_size=1)
    with pytest.raises(UsageError, match="scale_range"):
        training_pipeline(dataset, num_classes=3, ignore_label=255, input_size=(8, 8),
                          batch_size=1, scale_range=(2.0, 1.0))


def test_a_size_the_caller_counted_is_not_counted_again(rng):
    reads = []
    pairs = [pattern_pair(rng, 16, 16) for _ in range(6)]

    def generate():  # from_generator: tf.data does not know the split's size
        for index, (image, mask) in enumerate(pairs):
            reads.append(index)
            yield {"image": image, "segmentation_mask": mask, "file_name": f"image_{index}.jpg"}

    dataset = tf.data.Dataset.from_generator(generate, output_signature=SIGNATURE)
    options = dict(num_classes=NUM_CLASSES, ignore_label=255, input_size=(16, 16), batch_size=4, seed=0)
    training_pipeline(dataset, **options)
    assert len(reads) == 6  # counted: one pass over the data
    reads.clear()
    counted = training_pipeline(dataset, **options, size=6)
    assert reads == []  # nothing read until batches are asked for
    assert len(batches(counted)) == 1  # 6 images, batch 4: the incomplete batch dropped
