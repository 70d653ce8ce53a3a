"""Mixed-sample augmentation of a training batch: each image gets a region of another, labels and all.

A small model trained from scratch on a few streets learns each object in the context of the
streets it saw. Pasting part of one training image, with its labels, into another puts objects
in scenes they never appeared in:

- `classmix` (after Olsson et al., WACV 2021) pastes the pixels of the other image's classes,
  each class with probability 1/2 (ClassMix picks exactly half of them; the coins differ only
  for images of few classes), so the pasted region follows object outlines.
- `cutmix` (Yun et al., ICCV 2019) pastes a random box covering a uniform random fraction of
  the image.

Image i of a batch takes its region from image i - 1 (the batch rolled by one), as both came
out of the per-image augmentation; each image is mixed with probability `probability`. The
draws are stateless, from one seed per image, so a seeded pipeline stays repeatable. The
NumPy pipeline has the same steps in `keras_deconvnet.data.numpy_pipeline`.
"""

import tensorflow as tf

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.mix_settings import check_mix_mode


def mix_batch(
    images: tf.Tensor,
    masks: tf.Tensor,
    seeds: tf.Tensor,
    *,
    mode: str,
    probability: float,
    num_classes: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Pastes into each image of a batch a region of the image before it, with its labels.

    Args:
        images: (B, H, W, C) float32 images.
        masks: (B, H, W) int32 labels, 255 = ignore.
        seeds: (B, 2) int64 stateless seeds, one per image.
        mode: "classmix" or "cutmix" (see the module docstring).
        probability: the chance that an image is mixed at all.
        num_classes: the classes a mask may hold besides 255.

    Returns:
        The mixed images and masks, same shapes and dtypes. A pasted pixel takes image and
        label from the other image together; 255 pixels of the other image are never pasted.

    Raises:
        UsageError: an unknown mode.
    """
    check_mix_mode(mode)
    others, other_masks = tf.roll(images, 1, axis=0), tf.roll(masks, 1, axis=0)

    def region(args):
        other_mask, seed = args
        coin_seed, region_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
        if mode == "classmix":
            chosen = tf.random.stateless_uniform([num_classes], region_seed) < 0.5
            pasted = tf.gather(chosen, tf.minimum(other_mask, num_classes - 1))
        else:
            pasted = _random_box(tf.shape(other_mask), region_seed)
        pasted &= other_mask != IGNORE_LABEL
        return pasted & (tf.random.stateless_uniform([], coin_seed) < probability)

    pasted = tf.map_fn(region, (other_masks, seeds), fn_output_signature=tf.bool)
    images = tf.where(pasted[..., None], others, images)
    masks = tf.where(pasted, other_masks, masks)
    return images, masks


def _random_box(shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A (H, W) bool box of a uniform random area fraction, the image's aspect, anywhere inside."""
    side_seed, top_seed, left_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    size = tf.cast(shape, tf.float32) * tf.sqrt(tf.random.stateless_uniform([], side_seed))
    height, width = tf.unstack(tf.cast(tf.round(size), tf.int32))
    top = tf.random.stateless_uniform([], top_seed, maxval=shape[0] - height + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], left_seed, maxval=shape[1] - width + 1, dtype=tf.int32)
    rows, cols = tf.range(shape[0])[:, None], tf.range(shape[1])[None, :]
    return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
