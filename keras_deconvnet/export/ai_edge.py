"""int8 files from Google's ai-edge-quantizer, and its per-tensor error report.

The ai-edge-quantizer (PyPI `ai-edge-quantizer`, the optional `quantizer` extra) quantises a
float32 `.tflite` file after conversion, with selective `no_quantize` scopes matched against
op names by regular expression. `export --int8-quantizer ai-edge-quantizer` and
`int8-sensitivity` use it beside TensorFlow's converter, so the two can be compared by
per-class IoU on data the model did not train on. Its int16-activation recipe is not used:
on the lean models LiteRT's ADD has no kernel for it, so such files do not load.
"""

import re
from collections.abc import Iterable, Sequence

import numpy as np

from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.runtimes import first_line, litert_interpreter
from keras_deconvnet.export.selective import scope_pattern
from keras_deconvnet.process import native_notices_hidden

def _quantizer_modules():
    try:
        from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe
    except ImportError:
        raise UsageError(
            'the ai-edge-quantizer is not installed: pip install "keras-deconvnet[quantizer]" '
            "(or use --int8-quantizer converter)"
        ) from None
    return quantizer, recipe, algorithm_manager, qtyping


def _signature_data(float_flatbuffer: bytes, images: Iterable[np.ndarray]) -> dict[str, list[dict]]:
    """{signature: [{input name: (1, H, W, 3) float32 image}]}, as the quantizer reads data."""
    interpreter = litert_interpreter(float_flatbuffer)
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise UsageError(f"the float32 TFLite file has {len(signatures)} signatures; one is needed")
    (key, signature), = signatures.items()
    (name,) = signature["inputs"]
    shape = tuple(interpreter.get_input_details()[0]["shape"][1:])
    data = []
    for image in images:
        image = np.asarray(image, np.float32)
        if image.shape != shape:
            raise UsageError(f"calibration images must be {shape}, got {image.shape}")
        data.append({name: image[None]})
    if not data:
        raise UsageError("int8 TFLite needs calibration images; none were given")
    return {key: data}


def _quantizer(float_flatbuffer: bytes, float_layers: Sequence[str]):
    quantizer, recipe, algorithm_manager, qtyping = _quantizer_modules()
    model = quantizer.Quantizer(bytearray(float_flatbuffer), recipe.static_wi8_ai8())
    for layer in float_layers:
        model.update_quantization_recipe(
            regex=scope_pattern(layer),
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE,
        )
    return model


def quantize_with_ai_edge(
    float_flatbuffer: bytes,
    calibration_images: Iterable[np.ndarray],
    float_layers: Sequence[str] = (),
) -> bytes:
    """A static-range quantised copy of a float32 TFLite file: int8 weights and activations,
    the ops of `float_layers` (layer or stage names) left in float32.

    Args:
        float_flatbuffer: the float32 file, one signature with one image input.
        calibration_images: (H, W, 3) RGB 0..255 images at the file's input size.
        float_layers: layers or nested models whose ops stay float32.

    Raises:
        UsageError: the quantizer is not installed, images of the wrong shape or none, a
            failure of the quantizer, or a file that does not load in LiteRT, in one line.
    """
    quantizer = _quantizer(float_flatbuffer, float_layers)
    data = _signature_data(float_flatbuffer, calibration_images)
    try:
        with native_notices_hidden():  # its progress bars, LiteRT's notices and a debugging warning
            calibration = quantizer.calibrate(data, num_threads=1)
            content = bytes(quantizer.quantize(calibration, enable_progress_report=False).quantized_model)
        litert_interpreter(content)
    except Exception as error:  # the quantizer raises ValueError, RuntimeError and its own errors
        raise UsageError(f"the ai-edge-quantizer failed: {first_line(error)}") from error
    return content


def stage_snr(
    float_flatbuffer: bytes, quantized_flatbuffer: bytes, images: Iterable[np.ndarray], stages: Sequence[str]
) -> dict[str, float]:
    """{stage: the lowest signal-to-noise ratio (dB) of its tensors, quantised against float}
    on `images`, from the ai-edge-quantizer's `validate` (its per-tensor comparison of the
    tensors both files name alike: the quantizer's own files).

    A tensor's noise includes what the stages before it passed on; a stage whose SNR falls
    well below the one before it is the one that rounds badly.
    """
    quantizer, _, _, _ = _quantizer_modules()
    from ai_edge_quantizer.utils.validation_utils import ValidationErrorMetric

    model = quantizer.Quantizer(bytearray(float_flatbuffer), previous_quantized_model=bytearray(quantized_flatbuffer))
    data = _signature_data(float_flatbuffer, images)
    with native_notices_hidden():
        result = model.validate(data, error_metrics=[ValidationErrorMetric.SNR], num_threads=1)
    (key,) = result.available_signature_keys()
    tensors = result.get_signature_comparison_result(key).intermediate_tensors
    snr = {}
    for stage in stages:
        scope = re.compile(scope_pattern(stage))
        values = [metrics["snr"] for name, metrics in tensors.items() if scope.search(name)]
        if values:
            snr[stage] = float(min(values))
    return snr


