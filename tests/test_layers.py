import numpy as np
from keras import ops

from keras_deconvnet.models.layers import MaxPoolingWithSwitches, MaxUnpooling


def numpy_unpool_of_pool(x: np.ndarray) -> np.ndarray:
    """Reference: keep each 2x2 window's first maximum, zero the rest."""
    batch, height, width, channels = x.shape
    out = np.zeros_like(x)
    for b in range(batch):
        for i in range(0, height, 2):
            for j in range(0, width, 2):
                for c in range(channels):
                    window = x[b, i : i + 2, j : j + 2, c]
                    dy, dx = np.unravel_index(np.argmax(window), (2, 2))
                    out[b, i + dy, j + dx, c] = window[dy, dx]
    return out


def test_pooling_returns_maxima_and_their_positions():
    x = np.array(
        [[1, 9, 2, 0], [3, 4, 7, 8], [5, 0, 1, 1], [6, 2, 1, 3]], dtype="float32"
    ).reshape(1, 4, 4, 1)
    pooled, switches = MaxPoolingWithSwitches()(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(pooled)[0, :, :, 0], [[9, 8], [6, 3]])
    # row-major position inside each window: 9 top-right, 8 bottom-right, 6 bottom-left...
    np.testing.assert_array_equal(ops.convert_to_numpy(switches)[0, :, :, 0], [[1, 3], [2, 3]])
    assert ops.convert_to_numpy(switches).dtype == np.int32


def test_unpooling_puts_values_where_the_maxima_were_and_zeros_elsewhere(rng):
    x = rng.normal(size=(2, 6, 8, 3)).astype("float32")
    pooled, switches = MaxPoolingWithSwitches()(x)
    restored = ops.convert_to_numpy(MaxUnpooling()(pooled, switches))
    assert restored.shape == x.shape
    np.testing.assert_array_equal(restored, numpy_unpool_of_pool(x))
    assert np.count_nonzero(restored) == x.size // 4


def test_unpooling_places_new_values_by_the_switches():
    switches = np.array([[0, 3]], dtype="int32").reshape(1, 1, 2, 1)
    values = np.array([[5.0, 7.0]], dtype="float32").reshape(1, 1, 2, 1)
    restored = ops.convert_to_numpy(MaxUnpooling()(values, switches))[0, :, :, 0]
    np.testing.assert_array_equal(restored, [[5, 0, 0, 0], [0, 0, 0, 7]])
