"""The training augmentation as array operations (`keras.ops`), to run inside a compiled step.

On an accelerator the whole dataset can stay in device memory: a step then gathers its images
by index and augments them here, with no CPU loader between steps. The augmentations are the
tf.data pipeline's (`keras_deconvnet.data.pipeline`): a random scale, a crop padded where the
scaled image is smaller (image 0, label 255), a left-right flip, the photometric distortion
and ClassMix or CutMix, drawn with the same distributions. Scale and crop are one sampling
grid per image: bilinear for the image, nearest for the labels.

The random numbers come in as arrays of uniform draws in [0, 1) (`draw_shapes`), so the code
runs under any Keras backend and the caller chooses the generator (a JAX key in the step).
"""

from keras import ops

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.mix_settings import check_mix

# The columns of `draws`, one row an image.
SCALE, OFFSET_Y, OFFSET_X, FLIP, MIX, BOX_SIDE, BOX_Y, BOX_X = range(8)
BRIGHTNESS_COIN, CONTRAST_COIN, SATURATION_COIN, HUE_COIN, CONTRAST_FIRST = range(8, 13)
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(13, 17)
NUM_DRAWS = 17


def draw_shapes(batch_size: int, num_classes: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The shapes of `augment_batch`'s `draws` and `class_draws`."""
    return (batch_size, NUM_DRAWS), (batch_size, num_classes)


def augment_batch(
    images,
    masks,
    sizes,
    draws,
    class_draws,
    *,
    input_size: tuple[int, int],
    scale_range: tuple[float, float],
    photometric: bool,
    mix: str = "none",
    mix_probability: float = 0.5,
):
    """Augments a batch gathered from the device-resident dataset.

    Args:
        images: (B, H, W, 3) uint8, each image at the top left, padded to the dataset's largest.
        masks: (B, H, W) integer labels, 255 = ignore (padding included).
        sizes: (B, 2) int32, each image's own (height, width).
        draws: (B, NUM_DRAWS) uniform draws in [0, 1).
        class_draws: (B, C) uniform draws in [0, 1), ClassMix's choice of classes.
        input_size: (height, width) of the crops.
        scale_range: (low, high) of the random scale factor.
        photometric: apply the photometric distortion.
        mix: "none", "classmix" or "cutmix".
        mix_probability: the chance that an image is mixed.

    Returns:
        (images float32 (B, h, w, 3) in 0..255, masks int32 (B, h, w) with 255 = ignore).
    """
    check_mix(mix, mix_probability, int(images.shape[0]))
    images, masks = _scale_crop_flip(images, masks, sizes, draws, input_size, scale_range)
    if photometric:
        images = _photometric(images, draws)
    if mix != "none":
        pasted = _mix_regions(masks, draws, class_draws, mix, mix_probability)
        images = ops.where(pasted[..., None], ops.roll(images, 1, axis=0), images)
        masks = ops.where(pasted, ops.roll(masks, 1, axis=0), masks)
    return images, masks


def _uniform_offset(scaled, crop, draw):
    """The crop's start in the scaled image, uniform over the crop's placements: from 0 to
    scaled - crop when it fits, from scaled - crop to 0 (the image anywhere inside the
    padded crop) when it does not, as `augmentation.random_crop` places it."""
    low = ops.minimum(scaled - crop, 0)
    span = ops.abs(scaled - crop) + 1
    return low + ops.minimum(ops.cast(ops.floor(draw * ops.cast(span, "float32")), "int32"), span - 1)


def _axis_grid(size, scaled, start, crop: int, flip=None):
    """Per image, the source coordinates of the crop's rows (or columns), for bilinear and
    nearest sampling, and whether each lies inside the scaled image."""
    steps = ops.arange(crop, dtype="int32")[None, :]
    if flip is not None:
        steps = ops.where(flip[:, None], crop - 1 - steps, steps)
    position = start[:, None] + steps  # in the scaled image
    inside = (position >= 0) & (position < scaled[:, None])
    ratio = ops.cast(size, "float32")[:, None] / ops.cast(scaled, "float32")[:, None]
    centre = (ops.cast(position, "float32") + 0.5) * ratio  # half-pixel centres, as tf.image.resize
    last = ops.cast(size, "float32")[:, None] - 1
    bilinear = ops.clip(centre - 0.5, 0.0, last)
    nearest = ops.cast(ops.clip(ops.floor(centre), 0.0, last), "int32")
    return bilinear, nearest, inside


def _scale_crop_flip(images, masks, sizes, draws, input_size, scale_range):
    batch, height, width = images.shape[0], images.shape[1], images.shape[2]
    crop_height, crop_width = input_size
    low, high = scale_range
    factor = low + (high - low) * draws[:, SCALE]
    scaled = ops.maximum(ops.cast(ops.round(ops.cast(sizes, "float32") * factor[:, None]), "int32"), 1)
    flip = draws[:, FLIP] < 0.5
    rows = _axis_grid(sizes[:, 0], scaled[:, 0], _uniform_offset(scaled[:, 0], crop_height, draws[:, OFFSET_Y]), crop_height)
    cols = _axis_grid(
        sizes[:, 1], scaled[:, 1], _uniform_offset(scaled[:, 1], crop_width, draws[:, OFFSET_X]), crop_width, flip
    )
    base = (ops.arange(batch, dtype="int32") * height * width)[:, None, None]

    def gather(flat, y, x):  # y (B, h), x (B, w) -> (B, h, w, ...)
        return ops.take(flat, base + y[:, :, None] * width + x[:, None, :], axis=0)

    flat_images = ops.cast(ops.reshape(images, (batch * height * width, 3)), "float32")
    y0 = ops.cast(ops.floor(rows[0]), "int32")
    x0 = ops.cast(ops.floor(cols[0]), "int32")
    y1, x1 = ops.minimum(y0 + 1, height - 1), ops.minimum(x0 + 1, width - 1)
    wy = (rows[0] - ops.cast(y0, "float32"))[:, :, None, None]
    wx = (cols[0] - ops.cast(x0, "float32"))[:, None, :, None]
    top = gather(flat_images, y0, x0) * (1 - wx) + gather(flat_images, y0, x1) * wx
    bottom = gather(flat_images, y1, x0) * (1 - wx) + gather(flat_images, y1, x1) * wx
    sampled = top * (1 - wy) + bottom * wy
    labels = gather(ops.reshape(ops.cast(masks, "int32"), (-1,)), rows[1], cols[1])
    inside = rows[2][:, :, None] & cols[2][:, None, :]
    return ops.where(inside[..., None], sampled, 0.0), ops.where(inside, labels, IGNORE_LABEL)


def _per_image(values):
    return values[:, None, None, None]


def _contrast(images, factor, apply):
    mean = ops.mean(images, axis=(1, 2), keepdims=True)  # each channel's own, as tf.image's
    changed = ops.clip((images - mean) * _per_image(factor) + mean, 0.0, 1.0)
    return ops.where(_per_image(apply), changed, images)


def _photometric(images, draws):
    """`augmentation.PhotometricDistortion`: brightness +-32, contrast and saturation x[0.5, 1.5],
    hue +-18 degrees, each with probability 1/2, contrast before or after the colour changes."""
    coin = {column: draws[:, column] < 0.5 for column in (BRIGHTNESS_COIN, CONTRAST_COIN, SATURATION_COIN, HUE_COIN)}
    contrast_first = draws[:, CONTRAST_FIRST] < 0.5
    contrast = 0.5 + draws[:, CONTRAST]
    pixels = images / 255.0
    shift = (2 * draws[:, BRIGHTNESS] - 1) * 32 / 255
    pixels = ops.where(_per_image(coin[BRIGHTNESS_COIN]), ops.clip(pixels + _per_image(shift), 0.0, 1.0), pixels)
    pixels = _contrast(pixels, contrast, coin[CONTRAST_COIN] & contrast_first)
    hsv = ops.image.rgb_to_hsv(pixels)
    saturation = ops.where(coin[SATURATION_COIN], 0.5 + draws[:, SATURATION], 1.0)
    hue_shift = ops.where(coin[HUE_COIN], (2 * draws[:, HUE] - 1) * 18 / 360, 0.0)
    hue = ops.mod(hsv[..., 0] + hue_shift[:, None, None], 1.0)
    hsv = ops.stack([hue, ops.clip(hsv[..., 1] * saturation[:, None, None], 0.0, 1.0), hsv[..., 2]], axis=-1)
    colours = coin[SATURATION_COIN] | coin[HUE_COIN]
    pixels = ops.where(_per_image(colours), ops.clip(ops.image.hsv_to_rgb(hsv), 0.0, 1.0), pixels)
    pixels = _contrast(pixels, contrast, coin[CONTRAST_COIN] & ~contrast_first)
    return pixels * 255.0


def _mix_regions(masks, draws, class_draws, mix, probability):
    """`numpy_pipeline.mix_regions`: where image i takes image i - 1's pixel and label."""
    others = ops.roll(masks, 1, axis=0)
    batch, height, width = masks.shape
    mixed = (draws[:, MIX] < probability)[:, None, None]
    if mix == "classmix":
        num_classes = class_draws.shape[1]
        chosen = ops.concatenate([class_draws < 0.5, ops.zeros((batch, 1), "bool")], axis=1)  # 255 -> last
        flat = ops.reshape(ops.minimum(others, num_classes), (batch, height * width))
        region = ops.reshape(ops.take_along_axis(chosen, flat, axis=1), (batch, height, width))
    else:
        side = ops.sqrt(draws[:, BOX_SIDE])
        box_height, box_width = ops.round(height * side), ops.round(width * side)
        top = ops.floor(draws[:, BOX_Y] * (height - box_height + 1))
        left = ops.floor(draws[:, BOX_X] * (width - box_width + 1))
        y = ops.arange(height, dtype="float32")[None, :]
        x = ops.arange(width, dtype="float32")[None, :]
        in_rows = (y >= top[:, None]) & (y < (top + box_height)[:, None])
        in_cols = (x >= left[:, None]) & (x < (left + box_width)[:, None])
        region = in_rows[:, :, None] & in_cols[:, None, :]
    return region & mixed & (others != IGNORE_LABEL)
