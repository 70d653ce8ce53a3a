"""What a model costs, read from its graph: multiply-adds, activations, training memory and
file sizes."""

import math
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError

# ----------------------------------------------------------------------------- counting


def layer_calls(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.Operation, list, list]]:
    """Every call of a leaf layer in `model`'s graph, nested models expanded in place.

    Walks the graph's nodes (each call of a layer is one node), so a layer called twice is
    listed twice and a nested Functional or Sequential model is entered once per call, never
    also counted as a layer of its own. A nested model's layers are listed at the shapes it
    was built with (true of every model here: stages are built at the shapes they get).

    Yields:
        (path such as "decoder_stage3/decoder_stage3_block1_dw", layer, input shapes,
        output shapes), shapes with the batch dimension first.
    """
    functional = getattr(model, "_functional", None) or model  # a Sequential wraps a Functional
    # Private: the public `operations` and `input`/`output` see only the first call of a shared layer.
    nodes_by_depth = getattr(functional, "_nodes_by_depth", None)
    if nodes_by_depth is None:
        raise UsageError(
            f"cannot walk the graph of '{model.name}': only built Functional and Sequential "
            "models have one"
        )
    for depth in sorted(nodes_by_depth, reverse=True):  # inputs first
        for node in nodes_by_depth[depth]:
            operation = node.operation
            if node.is_input:
                continue
            if isinstance(operation, keras.Model):
                yield from layer_calls(operation, f"{prefix}{operation.name}/")
            else:
                inputs = [tuple(tensor.shape) for tensor in node.input_tensors]
                outputs = [tuple(tensor.shape) for tensor in node.outputs]
                yield f"{prefix}{operation.name}", operation, inputs, outputs


def _grid_and_channels(shape: tuple, data_format: str) -> tuple[int, int, int]:
    """(height, width, channels) of a 4-D batch shape."""
    if data_format == "channels_first":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def layer_multiply_adds(layer: keras.Operation, input_shape: tuple, output_shape: tuple) -> int:
    """Multiply-adds of one call of a layer, per image; 0 for layers that are not counted.

    - Conv2D: H_out * W_out * kh * kw * C_in * C_out / groups
    - DepthwiseConv2D: H_out * W_out * kh * kw * C_in * depth_multiplier
    - SeparableConv2D: its depthwise part, plus the pointwise H_out * W_out * C_in *
      depth_multiplier * C_out
    - Conv2DTranspose: H_in * W_in * kh * kw * C_in * C_out (every input pixel spreads a
      kh x kw x C_out kernel)
    - Dense: (positions) * C_in * units
    Biases are left out, like every other addition.
    """
    if isinstance(layer, keras.layers.Dense):
        return math.prod(input_shape[1:-1]) * input_shape[-1] * layer.units
    if not isinstance(
        layer,
        (
            keras.layers.Conv2D,
            keras.layers.DepthwiseConv2D,
            keras.layers.SeparableConv2D,
            keras.layers.Conv2DTranspose,
        ),
    ):
        return 0
    kernel_h, kernel_w = layer.kernel_size
    height_in, width_in, channels_in = _grid_and_channels(input_shape, layer.data_format)
    height, width, _ = _grid_and_channels(output_shape, layer.data_format)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return height_in * width_in * kernel_h * kernel_w * channels_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        return height * width * kernel_h * kernel_w * channels_in * layer.filters // layer.groups
    depthwise = height * width * kernel_h * kernel_w * channels_in * layer.depth_multiplier
    if isinstance(layer, keras.layers.SeparableConv2D):
        return depthwise + height * width * channels_in * layer.depth_multiplier * layer.filters
    return depthwise


def count_multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one image through `model`, counted layer by layer from its graph.

    Counts Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Dense (see
    `layer_multiply_adds`), inside nested stage models too (each call counted once).
    Left out, as is usual: biases, batch normalisation (folded into the convs at export),
    activations, pooling, resizing and upsampling, unpooling, adds, multiplies
    (squeeze-excite scaling, gates) and concatenations, which are cheap next to the convs.

    Example:
        >>> count_multiply_adds(build_model("lean", input_shape=(224, 224, 3)))
    """
    return sum(
        layer_multiply_adds(layer, inputs[0], outputs[0]) for _, layer, inputs, outputs in layer_calls(model)
    )


def activation_elements(model: keras.Model) -> int:
    """Elements per image of every leaf layer's outputs: what a training step keeps."""
    return sum(
        math.prod(dim for dim in shape[1:]) for _, _, _, outputs in layer_calls(model) for shape in outputs
    )


def training_memory_estimate(model: keras.Model, batch_size: int) -> int:
    """A rough upper guess, in bytes, of the memory a training step with Adam needs.

    16 bytes a parameter (weights, gradients and Adam's two moments) plus, for every leaf
    layer's output, 6 bytes an element (its float32 value kept for the backward pass, and
    half as much again for the gradients alive at a time). Used only to skip a model that
    clearly does not fit in the memory available, rather than have the kernel kill the run.
    """
    return 16 * model.count_params() + 6 * batch_size * activation_elements(model)


# ---------------------------------------------------------------------------- file sizes


def file_sizes(model: keras.Model, tflite_files: Mapping[str, bytes]) -> dict[str, int]:
    """Bytes of the model saved as `.keras` (in a temporary folder) and of each TFLite file.

    Args:
        model: the Keras model.
        tflite_files: {dtype: flatbuffer}, e.g. from `convert_tflite`.

    Returns:
        {"keras": bytes, "tflite_<dtype>": bytes, ...}.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        sizes = {"keras": path.stat().st_size}
    return sizes | {f"tflite_{dtype}": len(content) for dtype, content in tflite_files.items()}
