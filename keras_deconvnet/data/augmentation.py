"""Random augmentations of one image and its mask, each with a stateless seed.

The geometric ones (scale, crop, flip) move image and mask together and resize masks with
nearest neighbour only; the photometric one changes the image alone. `keras_deconvnet.data.pipeline`
chains them.
"""

import dataclasses

import tensorflow as tf

from keras_deconvnet.constants import IGNORE_LABEL


def resize_pair(
    image: tf.Tensor, mask: tf.Tensor, size: tuple[int, int] | tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Resizes an image (bilinear) and its mask (nearest neighbour) to the same size.

    Args:
        image: (H, W, C) image of any numeric dtype.
        mask: (H, W, 1) integer labels.
        size: the new (height, width), Python ints or int32 tensors.

    Returns:
        The image as float32 and the mask in its own dtype, both at `size`.
    """
    image = tf.image.resize(image, size, method="bilinear")
    mask = tf.image.resize(mask, size, method="nearest")
    return image, mask


def random_scale(
    image: tf.Tensor, mask: tf.Tensor, scale_range: tuple[float, float], seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Scales an image and its mask by one factor drawn uniformly from `scale_range`.

    Args:
        image: (H, W, C) image of any numeric dtype.
        mask: (H, W, 1) integer labels.
        scale_range: (low, high) bounds of the factor applied to both sides.
        seed: shape (2,) int32/int64 seed of the stateless draw.

    Returns:
        The float32 image and the mask, both of size round(factor * (H, W)), at least 1x1.
    """
    low, high = scale_range
    factor = tf.random.stateless_uniform([], seed, minval=low, maxval=high)
    size = tf.cast(tf.shape(image)[:2], tf.float32) * factor
    size = tf.maximum(tf.cast(tf.round(size), tf.int32), 1)
    return resize_pair(image, mask, size)


def random_crop(
    image: tf.Tensor, mask: tf.Tensor, size: tuple[int, int], pad_value: float, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Crops the same random window of `size` from an image and its mask.

    A side shorter than the crop is padded by the shortfall at both ends (image with
    `pad_value`, mask with `IGNORE_LABEL`), so the random offset places the whole image
    anywhere inside the crop rather than always in its top-left corner.

    Args:
        image: (H, W, C) image.
        mask: (H, W, 1) integer labels.
        size: the crop's (height, width).
        pad_value: the value of padded image pixels (images are in 0..255).
        seed: shape (2,) int32/int64 seed of the stateless draw.

    Returns:
        The image (in its own dtype) and the mask, both (height, width, channels).
    """
    channels = image.shape[-1]
    crop = tf.constant(size, tf.int32)
    shortfall = tf.maximum(crop - tf.shape(image)[:2], 0)
    # (before, after) rows for height and width, and a row of zeros for the channels.
    paddings = tf.pad(tf.stack([shortfall, shortfall], axis=1), [[0, 1], [0, 0]])
    image = tf.pad(image, paddings, constant_values=tf.cast(pad_value, image.dtype))
    mask = tf.pad(mask, paddings, constant_values=tf.cast(IGNORE_LABEL, mask.dtype))
    limit = tf.shape(image)[:2] - crop + 1
    offset = tf.random.stateless_uniform([2], seed, maxval=2**31 - 1, dtype=tf.int32) % limit
    begin = tf.concat([offset, [0]], axis=0)
    image = tf.slice(image, begin, [size[0], size[1], -1])
    mask = tf.slice(mask, begin, [size[0], size[1], -1])
    return tf.ensure_shape(image, (*size, channels)), tf.ensure_shape(mask, (*size, 1))


def random_flip(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Flips an image and its mask left-right together, with probability 1/2.

    Args:
        image: (H, W, C) image.
        mask: (H, W, 1) integer labels.
        seed: shape (2,) int32/int64 seed of the stateless draw.

    Returns:
        The image and the mask, both flipped or both unchanged.
    """
    image, mask = tf.convert_to_tensor(image), tf.convert_to_tensor(mask)
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tf.cond(
        flip,
        lambda: (tf.reverse(image, axis=[1]), tf.reverse(mask, axis=[1])),
        lambda: (image, mask),
    )


@dataclasses.dataclass(frozen=True)
class PhotometricDistortion:
    """Random brightness, contrast, saturation and hue, each applied with probability 1/2.

    The kind of distortion MMSegmentation's PhotoMetricDistortion does, with its ranges: a
    brightness shift in [-32, 32] (of 0..255), contrast and saturation factors in [0.5, 1.5];
    contrast comes before or after the colour changes, at random. Two differences: the hue
    shift is at most 18 degrees (MMSegmentation's 18 is in OpenCV's 0..180 hue units, so 36
    degrees), and contrast scales about the image's mean, as `tf.image` does, rather than
    about 0. Road scenes of another street, hour or camera differ in exactly these, so a
    model trained with them relies less on the colours of the streets it saw.

    Attributes:
        brightness: largest brightness shift, in 0..255 units.
        contrast: (low, high) contrast factor.
        saturation: (low, high) saturation factor.
        hue: largest hue shift, in degrees.
    """

    brightness: float = 32.0
    contrast: tuple[float, float] = (0.5, 1.5)
    saturation: tuple[float, float] = (0.5, 1.5)
    hue: float = 18.0

    def __call__(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Distorts one float32 (H, W, 3) image in 0..255; returns it in 0..255.

        Args:
            image: (H, W, 3) float32 RGB in 0..255.
            seed: shape (2,) int32/int64 seed of the stateless draws.
        """
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, num=6))
        coins = tf.random.stateless_uniform([4], seeds[0]) < 0.5
        image = image / 255.0

        def maybe(coin, distort, x):
            return tf.cond(coin, lambda: tf.clip_by_value(distort(x), 0.0, 1.0), lambda: x)

        def contrast(x):
            return tf.image.stateless_random_contrast(x, *self.contrast, seed=seeds[1])

        image = maybe(
            coins[0],
            lambda x: tf.image.stateless_random_brightness(x, self.brightness / 255, seeds[2]),
            image,
        )
        contrast_first = tf.random.stateless_uniform([], seeds[3]) < 0.5
        image = maybe(coins[1] & contrast_first, contrast, image)
        image = maybe(
            coins[2],
            lambda x: tf.image.stateless_random_saturation(x, *self.saturation, seed=seeds[4]),
            image,
        )
        image = maybe(
            coins[3],
            lambda x: tf.image.stateless_random_hue(x, self.hue / 360, seeds[5]),
            image,
        )
        image = maybe(coins[1] & ~contrast_first, contrast, image)
        return image * 255.0
