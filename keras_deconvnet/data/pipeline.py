"""tf.data pipelines: label checks, joint image/mask augmentation, batching, prefetching.

Every dataset builder yields feature dicts ``{"image": uint8 (H, W, 3), "segmentation_mask":
uint8 (H, W, 1), "file_name": string}``, the image and mask possibly still encoded (bytes,
decoded here where an element is used). The pipelines turn them into ``(images, masks)``
batches: images float32 (B, H, W, 3) in 0..255 (the models normalise internally), masks int32
(B, H, W) with the dataset's own ignore label mapped to `keras_deconvnet.constants.IGNORE_LABEL`.
A label that is neither a class nor the ignore label stops the pipeline with an error naming
it, since Keras' `MeanIoU` would drop it silently and the loss on a GPU would give NaN.

Training augmentation follows section III.B of the paper (random crop, random horizontal flip,
resize): random scale, pad to the crop size, random crop, random flip. Image and mask always
move together; masks are only ever resized with nearest neighbour and stay integer. An
optional photometric distortion (brightness, contrast, saturation, hue; MMSegmentation's
PhotoMetricDistortion) then changes the image only, and an optional mixed-sample step
(`keras_deconvnet.data.mixing`: ClassMix or CutMix) pastes into each image of a batch a region of
another, labels and all. With `soft_targets` (distillation) a teacher's probabilities ride along
as extra image channels through every geometric step and the mixing, and leave as channels
1..C of the targets (`keras_deconvnet.data.soft_targets`). The random ops are stateless, with one
seed per element drawn from (seed, epoch, position), and each epoch is shuffled by (seed,
epoch): a pipeline built with a seed yields the same batches every time, and one started at
epoch k (`first_epoch`, a resumed run) yields what the uninterrupted stream yields there.

Example:
    train = training_pipeline(dataset, num_classes=21, ignore_label=255,
                              input_size=(224, 224), batch_size=8, seed=0, repeat=True)
    images, masks = next(iter(train))  # (8, 224, 224, 3) float32, (8, 224, 224) int32
"""

import random

import tensorflow as tf

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.augmentation import (
    PhotometricDistortion,
    random_crop,
    random_flip,
    random_scale,
    resize_pair,
)
from keras_deconvnet.data.mix_settings import check_mix
from keras_deconvnet.data.mixing import mix_batch
from keras_deconvnet.data.soft_targets import read_soft_targets, split_soft_targets
from keras_deconvnet.errors import UsageError

EVALUATION_MODES = ("resize", "pad", "original")


def training_pipeline(
    dataset: tf.data.Dataset,
    *,
    num_classes: int,
    ignore_label: int,
    input_size: tuple[int, int],
    batch_size: int,
    scale_range: tuple[float, float] = (0.5, 2.0),
    flip: bool = True,
    photometric: PhotometricDistortion | None = None,
    mix: str = "none",
    mix_probability: float = 0.5,
    pad_value: float = 0.0,
    shuffle_buffer: int = 512,
    seed: int | None = None,
    repeat: bool = False,
    first_epoch: int = 0,
    size: int | None = None,
    soft_targets: str | None = None,
) -> tf.data.Dataset:
    """Shuffles, augments (scale, pad, crop, flip, colours, mixing), batches and prefetches training data.

    Args:
        dataset: feature dicts with "image" uint8 (H, W, 3) and "segmentation_mask" uint8
            (H, W, 1), as the dataset builders yield them.
        num_classes: classes per pixel; labels must be below it or equal to `ignore_label`.
        ignore_label: the dataset's own ignore label (VOC 255, CamVid 11), mapped to 255.
        input_size: (height, width) of the random crop, the model's input size.
        batch_size: images per batch; the last incomplete batch is dropped.
        scale_range: bounds of the random scale factor, applied before the crop.
        flip: whether to flip left-right with probability 1/2.
        photometric: a colour distortion of the image after the geometric steps, or None.
        mix: "none", or the mixed-sample augmentation of each batch: "classmix" or "cutmix".
        mix_probability: the chance that an image of a batch is mixed (with `mix`).
        pad_value: image value of the padding where a scaled image is smaller than the crop.
        shuffle_buffer: elements in the shuffle buffer (shuffled before augmentation).
        seed: makes shuffling and augmentation repeatable; None draws fresh randomness.
            Epoch e's order and augmentation depend on (seed, e) alone.
        repeat: an endless stream of epochs from `first_epoch` on; else that epoch alone.
        first_epoch: the epoch the data start at (a resumed run's next epoch).
        size: the elements of one pass of `dataset` where the caller has counted them
            (`split_size`); None counts them here, a pass over the data if tf.data does not know.
        soft_targets: a folder of per-pixel probabilities for every element (a teacher's, for
            distillation), one `soft_targets.soft_target_file` each; None for plain labels.

    Returns:
        A dataset of (images float32 (B, H, W, 3) in 0..255, masks int32 (B, H, W) with
        255 = ignore); with `soft_targets`, the targets are float32 (B, H, W, 1 + C): the
        mask, then the probabilities (all 0 where the crop padded the image). Reading a batch
        with a stray label raises `tf.errors.InvalidArgumentError` naming the file and the label.

    Raises:
        UsageError: an argument out of range.
    """
    _check_classes(num_classes, ignore_label)
    height, width = _check_size(input_size)
    _check_positive(batch_size=batch_size, shuffle_buffer=shuffle_buffer)
    if not isinstance(first_epoch, int) or first_epoch < 0:
        raise UsageError(f"first_epoch must be an int >= 0, got {first_epoch}")
    low, high = scale_range
    if not 0 < low <= high:
        raise UsageError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
    check_mix(mix, mix_probability, batch_size)
    if soft_targets is not None and pad_value != 0:
        raise UsageError("soft_targets are padded with 0, as the image must be: pass pad_value=0")

    def augment(features, element_seed):
        image, mask = _checked_pair(features, num_classes, ignore_label)
        if soft_targets is not None:
            image = tf.concat([tf.cast(image, tf.float32), read_soft_targets(features, image, soft_targets, num_classes)], -1)
        scale_seed, crop_seed, flip_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, num=3)
        )
        image, mask = random_scale(image, mask, scale_range, scale_seed)
        image, mask = random_crop(image, mask, (height, width), pad_value, crop_seed)
        if flip:
            image, mask = random_flip(image, mask, flip_seed)
        image, mask = _output_pair(image, mask)
        if photometric is not None:
            # Folded in, not split off: the geometric draws stay those of a run without it.
            distorted = photometric(image[..., :3], tf.random.experimental.stateless_fold_in(element_seed, 3))
            image = tf.concat([distorted, image[..., 3:]], -1)
        if mix == "none":
            return image, mask
        return image, mask, tf.random.experimental.stateless_fold_in(element_seed, 4)

    def mixed(images, masks, mix_seeds):
        return mix_batch(images, masks, mix_seeds, mode=mix, probability=mix_probability, num_classes=num_classes)

    if seed is None:
        seed = random.SystemRandom().randrange(2**31)  # fresh randomness, one stream all the same
    size = split_size(dataset) if size is None else size
    steps = None if size is None else size // batch_size
    if steps == 0:
        raise UsageError(f"{size} training images cannot fill a batch of {batch_size}; use a smaller batch")

    def epoch_elements(epoch):
        # A pure function of (seed, epoch): a resumed run draws what the uninterrupted one did.
        # tf.data's shuffle takes no per-epoch tensor seed under a global seed, so each epoch
        # is a fixed shuffle, rotated by an offset drawn from (seed, epoch), shuffled again:
        # every epoch another order, with other neighbours in a batch.
        epoch_seed = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), epoch]), 0)
        elements = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
        if size:
            offset = tf.random.stateless_uniform([], epoch_seed, maxval=size, dtype=tf.int64)
            elements = elements.skip(offset).concatenate(elements.take(offset))
            elements = elements.shuffle(shuffle_buffer, seed=seed + 1, reshuffle_each_iteration=False)
            elements = elements.take(steps * batch_size)  # each epoch's last incomplete batch
        return elements.enumerate().map(
            lambda index, features: (features, tf.random.experimental.stateless_fold_in(epoch_seed, index))
        )

    epochs = tf.data.Dataset.counter(first_epoch) if repeat else tf.data.Dataset.range(first_epoch, first_epoch + 1)
    batches = (
        epochs.flat_map(epoch_elements)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
    )
    if mix != "none":
        batches = batches.map(mixed, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if soft_targets is not None:
        batches = batches.map(split_soft_targets, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat or steps is not None:
        cardinality = tf.data.INFINITE_CARDINALITY if repeat else steps
        batches = batches.apply(tf.data.experimental.assert_cardinality(cardinality))
    return batches.prefetch(tf.data.AUTOTUNE)


def split_size(dataset: tf.data.Dataset) -> int | None:
    """Elements in one pass of `dataset` (counted if tf.data does not know); None if endless."""
    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        return None
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(dataset.reduce(0, lambda total, _: total + 1))
    return count


def evaluation_pipeline(
    dataset: tf.data.Dataset,
    *,
    num_classes: int,
    ignore_label: int,
    input_size: tuple[int, int] | None,
    batch_size: int,
    mode: str = "resize",
) -> tf.data.Dataset:
    """Resizes or pads evaluation data deterministically, batches and prefetches it.

    Args:
        dataset: feature dicts with "image" uint8 (H, W, 3) and "segmentation_mask" uint8
            (H, W, 1), as the dataset builders yield them.
        num_classes: classes per pixel; labels must be below it or equal to `ignore_label`.
        ignore_label: the dataset's own ignore label (VOC 255, CamVid 11), mapped to 255.
        input_size: (height, width) for the "resize" and "pad" modes; unused by "original".
        batch_size: images per batch (the last batch may be smaller); 1 in "original" mode.
        mode: "resize": image bilinear and mask nearest to `input_size`. "pad": scaled down
            (keeping the aspect ratio) only if larger than `input_size`, then padded at the
            bottom and right, image with 0 and mask with 255. "original": the original
            resolution, one image per batch.

    Returns:
        A dataset of (images float32 (B, H, W, 3) in 0..255, masks int32 (B, H, W) with
        255 = ignore), in the order of `dataset`. Reading a batch with a stray label raises
        `tf.errors.InvalidArgumentError` naming the file and the label.

    Raises:
        UsageError: an unknown mode, a missing `input_size` or an argument out of range.
    """
    _check_classes(num_classes, ignore_label)
    _check_positive(batch_size=batch_size)
    if mode not in EVALUATION_MODES:
        raise UsageError(f"mode must be one of {', '.join(EVALUATION_MODES)}, got '{mode}'")
    if mode == "original":
        size, batch_size = None, 1
    else:
        size = _check_size(input_size)

    def prepare(features):
        image, mask = _checked_pair(features, num_classes, ignore_label)
        if mode == "resize":
            image, mask = resize_pair(image, mask, size)
        elif mode == "pad":
            image, mask = _fit_and_pad(image, mask, size)
        return _output_pair(image, mask)

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _fit_and_pad(image, mask, size):
    """Scales down to fit `size` if needed (keeping the aspect ratio), then pads bottom-right."""
    target = tf.constant(size, tf.int32)
    shape = tf.shape(image)[:2]
    factor = tf.reduce_min(tf.cast(target, tf.float32) / tf.cast(shape, tf.float32))
    fitted = tf.cast(tf.round(tf.cast(shape, tf.float32) * tf.minimum(factor, 1.0)), tf.int32)
    fitted = tf.clip_by_value(fitted, 1, target)
    image, mask = resize_pair(image, mask, fitted)
    # (before, after) rows for height and width, and a row of zeros for the channels.
    paddings = tf.pad(tf.stack([[0, 0], target - fitted], axis=1), [[0, 1], [0, 0]])
    image = tf.pad(image, paddings, constant_values=0.0)
    mask = tf.pad(mask, paddings, constant_values=IGNORE_LABEL)
    return tf.ensure_shape(image, (*size, 3)), tf.ensure_shape(mask, (*size, 1))


def _decoded(value, channels: int):
    """A uint8 (H, W, channels) image, decoded first if it comes as encoded bytes
    (`load_split(..., decode=False)`)."""
    if value.dtype != tf.string:
        return value
    decoded = tf.io.decode_image(value, channels=channels, dtype=tf.uint8, expand_animations=False)
    decoded.set_shape((None, None, channels))
    return decoded


def _checked_pair(features, num_classes, ignore_label):
    """The image and the uint8 mask, checked for stray labels, with the ignore label as 255."""
    image, mask = _decoded(features["image"], 3), _decoded(features["segmentation_mask"], 1)
    is_ignored = tf.equal(mask, ignore_label)
    largest = tf.reduce_max(tf.where(is_ignored, tf.zeros_like(mask), mask))
    same_size = tf.debugging.assert_equal(
        tf.shape(image)[:2], tf.shape(mask)[:2], message="image and segmentation_mask sizes differ"
    )
    labels_ok = tf.debugging.Assert(
        largest < num_classes,
        [
            f"segmentation_mask has a label >= num_classes ({num_classes}) that is not the "
            f"ignore label ({ignore_label}); check num_classes and ignore_label. File:",
            features.get("file_name", "(no file_name)"),
            "largest label other than the ignore label:",
            largest,
        ],
    )
    with tf.control_dependencies([same_size, labels_ok]):
        mask = tf.where(is_ignored, tf.constant(IGNORE_LABEL, mask.dtype), mask)
    return image, mask


def _output_pair(image, mask):
    return tf.cast(image, tf.float32), tf.cast(tf.squeeze(mask, axis=-1), tf.int32)


def _check_classes(num_classes, ignore_label):
    if not 1 <= num_classes <= IGNORE_LABEL:
        raise UsageError(f"num_classes must be in 1..{IGNORE_LABEL}, got {num_classes}")
    if not 0 <= ignore_label <= 255:
        raise UsageError(f"ignore_label must be a uint8 label in 0..255, got {ignore_label}")


def _check_size(size):
    if size is None or len(size) != 2 or min(size) < 1:
        raise UsageError(f"input_size must be (height, width) of positive ints, got {size}")
    return int(size[0]), int(size[1])


def _check_positive(**values):
    for name, value in values.items():
        if value < 1:
            raise UsageError(f"{name} must be a positive int, got {value}")
