"""The TF Serving SavedModel of an export: `serving_default` and `serving_bytes` (see the package docstring)."""

from pathlib import Path

import keras
import tensorflow as tf

from keras_deconvnet.export.formats import BYTES_SIGNATURE, SERVING_SIGNATURE
from keras_deconvnet.models import model_input_size

IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
PADDING_CLASS = -1


def write_saved_model(model: keras.Model, path: str | Path) -> None:
    """Writes a SavedModel with the `serving_default` and `serving_bytes` signatures.

    Args:
        model: a functional model from RGB 0..255 images (B, H, W, 3) to logits (B, H, W, C).
        path: the folder to create (for TF Serving, `saved_models/NAME/<version>`).
    """
    height, width = model_input_size(model)

    def serve(images):
        logits = model(images, training=False)
        return {
            "class_map": tf.argmax(logits, axis=-1, output_type=tf.int32),
            "probabilities": tf.nn.softmax(logits),
        }

    def serve_bytes(image_bytes):
        def decode(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return tf.image.resize(image, (height, width)), tf.shape(image)[:2]

        images, sizes = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=(tf.TensorSpec((height, width, 3)), tf.TensorSpec((2,), tf.int32)),
        )
        logits = model(images, training=False)
        largest = tf.reduce_max(sizes, axis=0)

        def class_map_at_original_size(args):
            image_logits, size = args
            classes = tf.argmax(tf.image.resize(image_logits, size), axis=-1, output_type=tf.int32)
            padding = tf.stack([[0, 0], largest - size], axis=1)
            return tf.pad(classes, padding, constant_values=PADDING_CLASS)

        class_maps = tf.map_fn(
            class_map_at_original_size,
            (logits, sizes),
            fn_output_signature=tf.TensorSpec((None, None), tf.int32),
        )
        return {"class_map": class_maps, "height": sizes[:, 0], "width": sizes[:, 1]}

    # No archive.track(model): add_endpoint tracks the variables it uses, and track() would
    # store every weight a second time (keras-team/keras#23553, Keras 3.15).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        SERVING_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec((None, height, width, 3), tf.float32, name=IMAGES_INPUT)],
    )
    archive.add_endpoint(
        BYTES_SIGNATURE,
        serve_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name=BYTES_INPUT)],
    )
    archive.write_out(str(path), verbose=False)
