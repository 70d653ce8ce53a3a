"""TFLite conversion: batch size 1, built-in ops only, float32, float16 and int8.

Every file takes float32 RGB 0..255 images. float32 and float16 files give float32 logits.
An int8 file gives what `int8_output` says: int8 logits (float = scale * (int8 - zero_point),
from the output tensor's quantization parameters, whose argmax is the class map), float32
logits, or the class map itself (an ARG_MAX op in the graph, int32 (1, H, W)). int8 files
that keep named layers float (`selective`) give float32 logits or the class map. TensorFlow's
converter quantises by default; `int8_quantizer="ai-edge-quantizer"` quantises the float32
file with Google's ai-edge-quantizer instead (`ai_edge`).
"""

import tempfile
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as tflite_schema

from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.ai_edge import quantize_with_ai_edge
from keras_deconvnet.export.formats import SERVING_SIGNATURE
from keras_deconvnet.export.options import INT8_OUTPUTS, INT8_QUANTIZERS, TFLITE_TYPES
from keras_deconvnet.export.selective import checked_float_layers, quantize_except
from keras_deconvnet.models import model_input_size
from keras_deconvnet.models.deploy import deploy_model
from keras_deconvnet.process import native_notices_hidden


def convert_tflite(
    model: keras.Model,
    tflite_types: Sequence[str] = TFLITE_TYPES,
    calibration_images: Iterable[np.ndarray] | None = None,
    int8_float_layers: Sequence[str] = (),
    int8_quantizer: str = "converter",
    int8_output: str = "int8",
) -> dict[str, bytes]:
    """Converts a model to TFLite flatbuffers of batch size 1 with built-in ops only.

    The model goes through a temporary batch-1 SavedModel (`TFLiteConverter.from_saved_model`,
    as Keras' own LiteRT export does) of its deploy form, converted once per type: one
    SavedModel for float32 and float16, and another for int8 when its form differs
    (`deploy_model`: transposed convs as 1x1 convs and depth-to-space, and for int8 hard-swish
    as ops XNNPACK runs in int8; the same function).

    Args:
        model: a functional model from RGB 0..255 images to logits.
        tflite_types: any of "float32", "float16" and "int8".
        calibration_images: for int8, the representative dataset: (H, W, 3) RGB 0..255
            images at the model's size (an (N, H, W, 3) array works); a few hundred are
            enough. Read once.
        int8_float_layers: layers or nested models (e.g. "decoder_stage3") whose ops the
            int8 file keeps in float32 (`selective.quantize_except`); it then gives float32
            logits.
        int8_quantizer: "converter" (TensorFlow's) or "ai-edge-quantizer" (which gives
            int8 logits).
        int8_output: the int8 file's output: "int8" logits, "float" logits or "classes"
            (the class map); the last two with the converter only.

    Returns:
        {dtype: flatbuffer bytes}.

    Raises:
        UsageError: int8 without calibration images, a float layer the model lacks, a failed
            conversion, or a model that needs Flex (TF Select) or custom ops, which are named.
    """
    tflite_types = _checked_choices(tflite_types, TFLITE_TYPES, "TFLite type")
    if "int8" in tflite_types and calibration_images is None:
        raise UsageError("int8 TFLite needs calibration images (a representative dataset)")
    if int8_float_layers and "int8" not in tflite_types:
        raise UsageError("int8_float_layers are kept float in the int8 TFLite file: add int8 to the TFLite types")
    check_int8_method(int8_quantizer, int8_output)
    float_layers = checked_float_layers(model, int8_float_layers)
    size = model_input_size(model)
    float_form = deploy_model(model)
    # float_form itself when the model has no hard-swish or no int8 file is asked for
    int8_form = deploy_model(float_form, int8=True) if "int8" in tflite_types else float_form
    by_graph = {}  # (id of a deploy form, class map out): (the form, the types converted from it)
    for dtype in tflite_types:
        form, class_map = (int8_form, int8_output == "classes") if dtype == "int8" else (float_form, False)
        by_graph.setdefault((id(form), class_map), (form, []))[1].append(dtype)
    contents = {}
    for (_, class_map), (form, dtypes) in by_graph.items():  # one SavedModel a graph
        with tempfile.TemporaryDirectory() as saved_model:
            _write_batch_one(form, size, saved_model, class_map)
            for dtype in dtypes:
                if dtype == "int8" and int8_quantizer == "ai-edge-quantizer":
                    float_content = _convert(saved_model, "float32", None, size)
                    contents[dtype] = quantize_with_ai_edge(float_content, calibration_images, float_layers)
                else:
                    contents[dtype] = _convert(saved_model, dtype, calibration_images, size, float_layers, int8_output)
    return {dtype: contents[dtype] for dtype in tflite_types}


def check_int8_method(int8_quantizer: str, int8_output: str) -> None:
    """Raises UsageError for an unknown quantiser or output, or one the quantiser cannot give."""
    _checked_choices([int8_quantizer], INT8_QUANTIZERS, "int8 quantiser")
    _checked_choices([int8_output], INT8_OUTPUTS, "int8 output")
    if int8_quantizer == "ai-edge-quantizer" and int8_output != "int8":
        raise UsageError("the ai-edge-quantizer's int8 files give int8 logits: --int8-output float and classes "
                         "need --int8-quantizer converter")


def _write_batch_one(model: keras.Model, size: tuple[int, int], directory: str, class_map: bool = False) -> None:
    """A SavedModel of `model` for batch-1 float32 images of `size`, giving its logits, or
    with `class_map` their int32 argmax (one ARG_MAX op; Keras' argmax adds bitwise ops that
    TFLite has no built-in for)."""

    def serve(image):
        logits = model(image, training=False)
        return {"class_map": tf.argmax(logits, axis=-1, output_type=tf.int32)} if class_map else {"logits": logits}

    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        SERVING_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec((1, *size, 3), tf.float32, name="image")],
    )
    archive.write_out(directory, verbose=False)


def _convert(
    saved_model: str, dtype: str, calibration_images, size: tuple[int, int], float_layers: Sequence[str] = (),
    int8_output: str = "int8",
) -> bytes:
    """One TFLite flatbuffer of the batch-1 SavedModel (int8 with `float_layers` in float32 and
    the `int8_output`); fails on non-built-in ops."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    # Select TF ops are allowed only so that the flatbuffer names the offending ops
    # (non_builtin_ops) instead of the converter failing with an MLIR dump.
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if dtype == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS
    converter.target_spec.supported_ops = [builtins, tf.lite.OpsSet.SELECT_TF_OPS]
    if dtype != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if dtype == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if dtype == "int8":
        converter.representative_dataset = _representative_dataset(calibration_images, size)
        if int8_output == "int8":
            # int8 logits out: dequantising the full-resolution logits was about a tenth of the
            # int8 file's latency, and their argmax is the class map as it is (positive scale).
            # (Selective quantisation ignores this: its quantiser keeps float input and logits.)
            converter.inference_output_type = tf.int8
    try:
        with native_notices_hidden():
            selective = dtype == "int8" and float_layers
            content = quantize_except(converter, float_layers) if selective else converter.convert()
    except UsageError:
        raise
    except Exception as error:
        raise UsageError(f"TFLite {dtype} conversion failed: {_last_error_line(error)}") from error
    unsupported = non_builtin_ops(content)
    if unsupported:
        raise UsageError(
            f"the {dtype} TFLite model needs ops that are not TFLite built-ins: "
            f"{', '.join(unsupported)}; only built-in ops are allowed"
        )
    return content


def _representative_dataset(images: Iterable[np.ndarray], size: tuple[int, int]):
    def generate():
        count = 0
        for image in images:
            image = np.asarray(image, dtype=np.float32)
            if image.shape != (*size, 3):
                raise UsageError(f"calibration images must be ({size[0]}, {size[1]}, 3), got {image.shape}")
            count += 1
            yield [image[None]]
        if not count:
            raise UsageError("int8 TFLite needs calibration images; none were given")

    return generate


def non_builtin_ops(content: bytes) -> list[str]:
    """The ops of a TFLite flatbuffer that are not built-ins, sorted.

    Flex (TF Select) ops appear as "FlexCumprod" and the like, other custom ops by their
    custom code. An empty list means the model runs on any stock LiteRT runtime.
    """
    model = tflite_schema.Model.GetRootAs(content, 0)
    names = set()
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == tflite_schema.BuiltinOperator.CUSTOM:
            names.add(code.CustomCode().decode())
    return sorted(names)


def tflite_io(content: bytes) -> dict[str, tuple[str, list[int]]]:
    """{"input": (dtype, shape), "output": (dtype, shape)} of a flatbuffer's first input and
    output, as the file has them (e.g. ("int8", [1, 352, 480, 3]))."""
    model = tflite_schema.Model.GetRootAs(content, 0)
    subgraph = model.Subgraphs(0)
    types = {value: name.lower() for name, value in vars(tflite_schema.TensorType).items() if not name.startswith("_")}

    def described(index: int) -> tuple[str, list[int]]:
        tensor = subgraph.Tensors(index)
        return types[tensor.Type()], [int(side) for side in tensor.ShapeAsNumpy()]

    return {"input": described(subgraph.Inputs(0)), "output": described(subgraph.Outputs(0))}


def float_ops(content: bytes) -> dict[str, int]:
    """{op name: count} of the ops of a TFLite flatbuffer that compute in float32 (a float32
    output), other than the DEQUANTIZE ops that hand them their inputs; {} for a file that is
    integer throughout."""
    model = tflite_schema.Model.GetRootAs(content, 0)
    names = {value: name for name, value in vars(tflite_schema.BuiltinOperator).items() if not name.startswith("_")}
    counts = {}
    for subgraph in (model.Subgraphs(index) for index in range(model.SubgraphsLength())):
        for op in (subgraph.Operators(index) for index in range(subgraph.OperatorsLength())):
            code = model.OperatorCodes(op.OpcodeIndex())
            name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
            outputs = [subgraph.Tensors(op.Outputs(index)) for index in range(op.OutputsLength())]
            if name != "DEQUANTIZE" and any(t.Type() == tflite_schema.TensorType.FLOAT32 for t in outputs):
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _checked_choices(values: Sequence[str], choices: Sequence[str], what: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(values))
    unknown = [value for value in values if value not in choices]
    if unknown or not values:
        raise UsageError(f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(choices)}")
    return values


def _last_error_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
