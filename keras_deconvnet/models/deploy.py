"""`deploy_model`: the same function, in the form LiteRT's XNNPACK runs fastest.

The lean decoder upsamples with a 2x2 stride-2 transposed conv followed by batch norm
(`NAME_deconv`, `NAME_deconv_bn`). With no overlap between the 2x2 windows, that is one 1x1
conv to four times the channels, the batch norm folded into its weights and bias, followed
by depth-to-space:

    out[2i + a, 2j + b, o] = s[o] * sum_c x[i, j, c] K[a, b, o, c] + t[o]
                           = depth_to_space(x @ W + bias)[2i + a, 2j + b, o]

with W[c, (2a + b) C + o] = s[o] K[a, b, o, c] and bias[(2a + b) C + o] = t[o]. XNNPACK runs
the 1x1 conv as a plain matrix product and folds nothing after a TRANSPOSE_CONV, so the TFLite
files are converted from this form (docs/efficiency.md); `.keras` files keep the trainable one.

int8 files also get hard-swish as `int8_hard_swish`: the converter fuses Keras' hard-swish into
one HARD_SWISH op, which XNNPACK runs in float32 only, so each one cut an int8 graph in two and
ran on LiteRT's slower kernels; written as an ADD and two MULs it stays in XNNPACK.
"""

import keras
import numpy as np
from keras import layers


class PixelShuffleConv(layers.Layer):
    """A 1x1 conv with bias to `4 * filters` channels, then depth-to-space by 2."""

    def __init__(self, filters: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(shape=(1, 1, input_shape[-1], 4 * self.filters), name="kernel")
        self.bias = self.add_weight(shape=(4 * self.filters,), name="bias", initializer="zeros")

    def call(self, inputs, **kwargs):  # kwargs: what the replaced layer's call was given
        return keras.ops.depth_to_space(keras.ops.conv(inputs, self.kernel) + self.bias, 2)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        double = [None if size is None else 2 * size for size in (height, width)]
        return (batch, *double, self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}


class Folded(layers.Layer):
    """Stands where a batch norm was folded into the layer before it: passes its input on."""

    def call(self, inputs, **kwargs):  # kwargs: the batch norm's training and mask
        return inputs


def int8_hard_swish(x):
    """hard-swish, relu6(x + 3) * x / 6, in an order the TFLite converter leaves as ADD (with
    RELU6 fused), MUL and MUL: it fuses `x * relu6(x + 3) * (1 / 6)` into HARD_SWISH. Like
    `keras.activations`, it takes and returns a tensor of any backend."""
    return keras.ops.relu6(x + 3.0) * (x * (1.0 / 6.0))


def _hard_swish_layers(model: keras.Model) -> dict[int, layers.Layer]:
    """{id: layer} of the layers whose activation is hard-swish, nested models walked into."""
    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found |= _hard_swish_layers(layer)
        elif getattr(layer, "activation", None) is keras.activations.hard_silu:
            found[id(layer)] = layer
    return found


def _with_int8_hard_swish(layer: layers.Layer) -> layers.Layer:
    """A copy of `layer` (its weights copied) with `int8_hard_swish` as its activation."""
    copy = type(layer).from_config({**layer.get_config(), "activation": int8_hard_swish})
    copy.build_from_config(layer.get_build_config())
    copy.set_weights(layer.get_weights())
    return copy


def _uses(model: keras.Model, tensor) -> int | None:
    """How many times `model`'s layers and outputs take `tensor`; None if a layer called more
    than once (no single input) makes that unknowable."""
    count = sum(output is tensor for output in model.outputs)
    for layer in model.layers:
        try:
            inputs = layer.input
        except (AttributeError, ValueError):  # an input layer, or a layer called twice
            if isinstance(layer, layers.InputLayer):
                continue
            return None
        count += sum(value is tensor for value in keras.tree.flatten(inputs))
    return count


def _directly_followed(model: keras.Model, deconv: layers.Layer, norm: layers.Layer) -> bool:
    """Whether `norm` alone takes `deconv`'s output, each called once."""
    try:
        output, norm_input = deconv.output, norm.input
    except (AttributeError, ValueError):  # called more than once
        return False
    return norm_input is output and _uses(model, output) == 1


def _foldable(model: keras.Model) -> dict[int, tuple[layers.Layer, layers.Layer]]:
    """{id of a 2x2 stride-2 transposed conv: (it, the batch norm named after it that alone
    reads its output)}, nested models walked into."""
    pairs = {}
    by_name = {layer.name: layer for layer in model.layers}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            pairs |= _foldable(layer)
            continue
        norm = by_name.get(f"{layer.name}_bn")
        if (
            isinstance(layer, layers.Conv2DTranspose)
            and isinstance(norm, layers.BatchNormalization)
            and norm.axis in (-1, 3)
            and tuple(layer.kernel_size) == tuple(layer.strides) == (2, 2)
            and layer.padding == "valid"
            and layer.output_padding is None
            and tuple(layer.dilation_rate) == (1, 1)
            and not layer.use_bias
            and layer.activation is keras.activations.linear
            and layer.data_format == "channels_last"
            and _directly_followed(model, layer, norm)
        ):
            pairs[id(layer)] = (layer, norm)
    return pairs


def _pixel_shuffle_conv(deconv: layers.Conv2DTranspose, norm: layers.BatchNormalization) -> PixelShuffleConv:
    kernel = keras.ops.convert_to_numpy(deconv.kernel).astype(np.float64)  # (2, 2, out, in)
    filters, channels = kernel.shape[2], kernel.shape[3]
    mean, variance = (
        keras.ops.convert_to_numpy(weight).astype(np.float64) for weight in (norm.moving_mean, norm.moving_variance)
    )
    gamma = keras.ops.convert_to_numpy(norm.gamma).astype(np.float64) if norm.scale else np.ones(filters)
    beta = keras.ops.convert_to_numpy(norm.beta).astype(np.float64) if norm.center else np.zeros(filters)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    shift = beta - mean * scale
    # (2, 2, out, in) -> (in, 2, 2, out) -> (in, 4 * out): column (2a + b) * out + o.
    weights = np.transpose(kernel * scale[:, None], (3, 0, 1, 2)).reshape(channels, 4 * filters)
    # The replaced layer's dtype policy, not the global one (a --mixed-precision process).
    layer = PixelShuffleConv(filters, name=deconv.name, dtype=deconv.dtype_policy)
    layer.build((None, None, None, channels))
    layer.kernel.assign(weights[None, None].astype("float32"))
    layer.bias.assign(np.tile(shift, 4).astype("float32"))
    return layer


def deploy_model(model: keras.Model, int8: bool = False) -> keras.Model:
    """`model` with each 2x2 stride-2 transposed conv and its batch norm replaced by
    `PixelShuffleConv`, and with `int8`, each hard-swish activation by `int8_hard_swish`
    (the same function, to float32 rounding); `model` itself if there is nothing to replace.

    The other layers are shared with `model`, so the result is for export, not for training.

    Args:
        model: a functional model, nested models included.
        int8: also write hard-swish as ops XNNPACK runs in int8 (for int8 TFLite files only:
            in float32 XNNPACK runs one HARD_SWISH op faster).
    """
    pairs = _foldable(model)
    hard_swishes = _hard_swish_layers(model) if int8 else {}
    if not pairs and not hard_swishes:
        return model
    folded_norms = {id(norm) for _, norm in pairs.values()}

    def clone(layer: layers.Layer) -> layers.Layer:
        if id(layer) in pairs:
            return _pixel_shuffle_conv(*pairs[id(layer)])
        if id(layer) in folded_norms:
            return Folded(name=layer.name, dtype=layer.dtype_policy)
        if id(layer) in hard_swishes:
            return _with_int8_hard_swish(layer)
        return layer

    return keras.models.clone_model(model, clone_function=clone, recursive=True)
