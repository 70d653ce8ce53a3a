"""Max pooling that remembers its switches, and the unpooling that uses them.

DeconvNet (Noh et al., 2015) upsamples with *unpooling*: each value returns to the position
its max-pooling window took it from ("switch"), zeros elsewhere. Both layers are written with
`keras.ops` so they run on every Keras backend and convert to built-in TFLite ops.
"""

import keras
from keras import ops

_WINDOW = 4  # a 2x2 window, flattened row-major: switch = 2 * dy + dx


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class MaxPoolingWithSwitches(keras.layers.Layer):
    """2x2 max pooling with stride 2 that also returns the switches.

    Returns `(pooled, switches)`: `switches` is int32, of the pooled shape, holding the
    position of each maximum inside its window (0..3, row-major). Height and width must be
    even.
    """

    def call(self, inputs):
        height, width, channels = inputs.shape[1:]
        windows = ops.reshape(inputs, (-1, height // 2, 2, width // 2, 2, channels))
        windows = ops.transpose(windows, (0, 1, 3, 5, 2, 4))
        windows = ops.reshape(windows, (-1, height // 2, width // 2, channels, _WINDOW))
        pooled = ops.max(windows, axis=-1)
        switches = ops.cast(ops.argmax(windows, axis=-1), "int32")
        return pooled, switches


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class MaxUnpooling(keras.layers.Layer):
    """Inverse of `MaxPoolingWithSwitches`: doubles height and width.

    Each input value is written to the position its switch records inside the 2x2 window;
    the other three positions are zero.
    """

    def call(self, inputs, switches):
        height, width, channels = inputs.shape[1:]
        placed = ops.expand_dims(inputs, -1) * ops.one_hot(switches, _WINDOW, dtype=inputs.dtype)
        placed = ops.reshape(placed, (-1, height, width, channels, 2, 2))
        placed = ops.transpose(placed, (0, 1, 4, 2, 5, 3))
        return ops.reshape(placed, (-1, 2 * height, 2 * width, channels))
