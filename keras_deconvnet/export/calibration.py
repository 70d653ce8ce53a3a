"""int8 calibration images that look like new scenes: training's scale jitter, crop, flip and
photometric distortion applied to the calibration split.

Post-training quantisation fixes each activation's range from the calibration images. Plain
frames of the training streets can leave out the brightness, colours and scales of a street
the model never saw, whose activations then clip; augmented copies widen the ranges the way
training widened the data.
"""

import numpy as np
import tensorflow as tf

from keras_deconvnet.data.augmentation import PhotometricDistortion
from keras_deconvnet.data.pipeline import split_size, training_pipeline

# Training's defaults for the recipes' scale jitter (the camvid preset's range).
CALIBRATION_SCALE_RANGE = (0.75, 1.75)


def augmented_images(
    dataset: tf.data.Dataset,
    *,
    num_classes: int,
    ignore_label: int,
    input_size: tuple[int, int],
    count: int,
    scale_range: tuple[float, float] = CALIBRATION_SCALE_RANGE,
    seed: int = 0,
) -> np.ndarray:
    """One augmented crop of each of the first `count` images of `dataset`.

    Args:
        dataset: feature dicts as the dataset builders yield them.
        num_classes, ignore_label: the dataset's (its labels are checked as in training).
        input_size: (height, width) of the crops, the model's input size.
        count: how many images of `dataset` to augment.
        scale_range: the random scale before the crop.
        seed: makes the copies repeatable.

    Returns:
        float32 (N, H, W, 3) RGB 0..255, N = min(count, images in `dataset`).
    """
    dataset = dataset.take(count)
    batches = training_pipeline(
        dataset, num_classes=num_classes, ignore_label=ignore_label, input_size=input_size, batch_size=1,
        scale_range=scale_range, photometric=PhotometricDistortion(), shuffle_buffer=1, seed=seed,
        size=split_size(dataset),
    )
    images = [images.numpy()[0] for images, _ in batches]
    return np.stack(images) if images else np.zeros((0, *input_size, 3), np.float32)
