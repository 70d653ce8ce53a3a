"""Per-pixel probabilities stored beside a split (a teacher's, for distillation), as the tf.data
pipeline reads them and hands them on.

One file per element: raw uint8 probabilities (255 = 1) at half the image's resolution, named
after its file name (`soft_target_file`). `training_pipeline(..., soft_targets=FOLDER)` reads an
element's file (`read_soft_targets`), carries the probabilities as extra image channels through
the geometric steps and the mixing, and splits them off into the targets at the end
(`split_soft_targets`).
"""

import tensorflow as tf

SOFT_TARGET_SUFFIX = ".u8"
# A file name's folders are flattened into the one file name: "seq/frame.png" -> "seq__frame.png".
_FOLDER_SEPARATOR, _FLATTENED = "/", "__"


def soft_target_file(file_name: str) -> str:
    """The file in a `soft_targets` folder of the element `file_name`: raw uint8 probabilities
    (255 = 1) of shape ((H + 1) // 2, (W + 1) // 2, C), half the image's (H, W), row-major."""
    return file_name.replace(_FOLDER_SEPARATOR, _FLATTENED) + SOFT_TARGET_SUFFIX


def read_soft_targets(features: dict, image: tf.Tensor, folder: str, num_classes: int) -> tf.Tensor:
    """An element's probabilities from its `soft_target_file`, resized (bilinear) to the image."""
    name = tf.strings.regex_replace(features["file_name"], _FOLDER_SEPARATOR, _FLATTENED)
    raw = tf.io.decode_raw(tf.io.read_file(tf.strings.join([folder, "/", name, SOFT_TARGET_SUFFIX])), tf.uint8)
    size = tf.shape(image)[:2]
    probabilities = tf.reshape(raw, tf.concat([(size + 1) // 2, [num_classes]], 0))
    probabilities = tf.image.resize(tf.cast(probabilities, tf.float32) / 255.0, size, method="bilinear")
    return tf.ensure_shape(probabilities, (None, None, num_classes))


def split_soft_targets(images: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(B, H, W, 3 + C) images and their masks -> images, and masks with the probabilities after them."""
    targets = tf.concat([tf.cast(masks, tf.float32)[..., None], images[..., 3:]], -1)
    return images[..., :3], targets
