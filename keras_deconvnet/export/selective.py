"""Selective int8 quantisation: the ops of named layers kept float32 in an int8 TFLite file.

Full-integer quantisation rounds each activation tensor to 256 levels. In a deep residual
stack (`lean_context`'s dilated stride-8 stage) the rounding errors can add up along the
residual stream; keeping such a stage in float32 takes that rounding out, while XNNPACK
still takes the whole graph, with QUANTIZE and DEQUANTIZE ops at the stage's edges. Whether
it pays is a property of the trained model: compare the files with `scripts/evaluate.py`.
This is TFLite's own selective quantisation (`tf.lite.experimental.QuantizationDebugger`
with `denylisted_nodes`). Such a file gives float32 logits, not int8 ones.

A layer's tensors are found by its name scope in the TFLite tensor names. Ops the converter
fused (a conv with its batch norm and ReLU) are one tensor, so naming any of them keeps the
fused op float; a stage (a nested model) is the unit this is meant for.
"""

import re
import warnings
from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_deconvnet.errors import UsageError


def checked_float_layers(model: keras.Model, float_layers: Sequence[str]) -> tuple[str, ...]:
    """`float_layers` without repeats, each checked to be a layer or nested model of `model`.

    Raises:
        UsageError: a name that is no layer of `model` (the model's top-level names are
            listed), or one that TFLite's scopes cannot tell from another layer's: tracing
            may add `_N` to a scope, so `relu` and `relu_1` would both match `relu_1`.
    """
    float_layers = tuple(dict.fromkeys(float_layers))
    names = _layer_names(model)
    unknown = [name for name in float_layers if name not in names]
    if unknown:
        top_level = ", ".join(layer.name for layer in model.layers)
        raise UsageError(
            f"{', '.join(unknown)}: no such layer in {model.name} for --int8-float-layers; "
            f"its top-level layers and stages are: {top_level}"
        )
    for name in float_layers:
        twins = sorted(other for other in names if other != name and _same_scope(name, other))
        if twins:
            raise UsageError(
                f"{name} cannot be told from {', '.join(twins)} in the TFLite graph (tracing adds _N to "
                "scope names): pass --int8-float-layers the stage (nested model) that holds it"
            )
    return float_layers


def _same_scope(name: str, other: str) -> bool:
    """Whether `name` and `other` can give the same traced scope: one is the other plus `_N`."""
    return bool(re.fullmatch(rf"{re.escape(other)}_\d+", name) or re.fullmatch(rf"{re.escape(name)}_\d+", other))


def _layer_names(model: keras.Model) -> set[str]:
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if isinstance(layer, keras.Model):
            names |= _layer_names(layer)
    return names


def scope_pattern(layer: str) -> str:
    """The regular expression that finds `layer`'s ops in TFLite tensor names: its name scope,
    with the `_N` suffix tracing may add."""
    return rf"(?:^|[/;]){re.escape(layer)}(?:_\d+)?/"


def tensors_of_layers(tensor_names: Iterable[str], layers: Sequence[str]) -> dict[str, list[str]]:
    """{layer: the TFLite tensor names it produced}.

    A tensor name is the TensorFlow op names fused into it, joined by ";", each a path of
    name scopes such as `lean_context_1/decoder_stage3_1/decoder_stage3_block1_depthwise_1/
    depthwise`; a layer's scope is its name, with a `_N` suffix where tracing added one.
    """
    tensor_names = list(tensor_names)
    found = {}
    for layer in layers:
        scope = re.compile(scope_pattern(layer))
        found[layer] = [name for name in tensor_names if scope.search(name)]
    return found


def quantize_except(converter: tf.lite.TFLiteConverter, float_layers: Sequence[str]) -> bytes:
    """An int8 TFLite flatbuffer from `converter` with the ops of `float_layers` in float32.

    The debugger calibrates once (it sets the converter to calibrate only, so the converter
    is used up) and quantises with the layers' tensors denylisted. Input and logits stay
    float32 (its quantiser does not quantise the model's ends).

    Args:
        converter: a converter set up for int8 (optimizations and representative dataset).
        float_layers: names of layers or nested models whose ops stay float32.

    Raises:
        UsageError: a layer with no op left in the converted graph (an input layer, a batch
            norm the deploy form folded away).
    """
    with warnings.catch_warnings():  # the debugger opens tf.lite.Interpreter, deprecated for LiteRT's
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter)
        calibrated = Interpreter(model_content=debugger.calibrated_model)
        tensor_names = [tensor["name"] for tensor in calibrated.get_tensor_details()]
        by_layer = tensors_of_layers(tensor_names, float_layers)
        empty = [layer for layer, names in by_layer.items() if not names]
        if empty:
            raise UsageError(
                f"{', '.join(empty)} left no op in the TFLite graph (folded into another op?), "
                "so nothing of it can be kept float: name a layer or stage that computes something"
            )
        denylisted = sorted({name for names in by_layer.values() for name in names})
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylisted)
        return debugger.get_nondebug_quantized_model()
