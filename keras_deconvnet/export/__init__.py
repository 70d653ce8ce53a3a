"""Export a model as `.keras`, a TF Serving SavedModel, TFLite and ONNX, check every file, and
open any of them again (`load_predictor`).

`export_model(model, "saved_models/NAME", check_images)` writes one new version of NAME:

```
saved_models/NAME/
  3/                        SavedModel, what TF Serving serves (numbered folders only)
    assets.extra/keras_deconvnet.json    its metadata
  NAME_v3.keras, NAME_v3.json
  NAME_v3_float32.tflite, NAME_v3_float32.json    (and _float16, _int8)
  NAME_v3.onnx, NAME_v3.onnx.json                 (with --formats ...,onnx)
```

Everything is written to a hidden temporary folder inside `saved_models/NAME`, measured
against the Keras model on the check images, and only then moved into place, the
SavedModel last (TF Serving picks a version up as soon as its folder appears). A failed
export leaves nothing behind; an existing version or file is never overwritten.

SavedModel signatures (stable names, see docs/export.md):
- `serving_default`: `images` float32 (B, H, W, 3) RGB 0..255 at the model's size ->
  `class_map` int32 (B, H, W), `probabilities` float32 (B, H, W, C) (softmax).
- `serving_bytes`: `image_bytes` string (B,) encoded JPEG/PNG/BMP/GIF of any size ->
  `class_map` int32 (B, Hmax, Wmax) at each image's ORIGINAL size, padded with -1 to the
  largest image of the batch, and `height`, `width` int32 (B,) to crop it. Each image is
  resized (bilinear) to the model's size; its logits are resized (bilinear) back to the
  original size before the argmax, as `keras_deconvnet.evaluation.segment` does.

TFLite files have batch size 1, built-in ops only and RGB 0..255 input. float32 and float16
files give float32 logits (float16 stores the weights in half precision); int8 files quantise
weights and activations (post-training quantisation with a representative dataset, which
`augmented_images` can widen to new scenes) and give int8 logits, whose argmax is the class
map, float32 logits or the class map itself (`int8_output`). An int8 file may keep named
layers in float32 (`int8_float_layers`, selective quantisation), and may come from Google's
ai-edge-quantizer instead of TensorFlow's converter (`int8_quantizer`).

The ONNX file (opt-in: it needs the `onnx` extra, tf2onnx and onnxruntime) takes `images`
float32 (B, H, W, 3) RGB 0..255 at the model's size and gives logits (B, H, W, C), as the
`.keras` model does; ONNX Runtime checks it like the other files.
"""

from keras_deconvnet.lazy import lazy_attributes

# Public name -> the module that defines it, imported on first use: the commands' --help
# needs no TensorFlow, and opening an export does not import the exporters.
_HOMES = {
    "DEFAULT_FORMATS": "options",
    "FORMATS": "options",
    "ExportCheckError": "exporter",
    "export_model": "exporter",
    "MAX_CLASS_DROP": "options",
    "format_check_table": "check",
    "format_class_table": "check",
    "next_version": "metadata",
    "release_artifacts": "metadata",
    "BYTES_INPUT": "saved_model",
    "PADDING_CLASS": "saved_model",
    "class_maps_from_rest_response": "serving",
    "crop_class_maps": "serving",
    "rest_request_body": "serving",
    "KerasPredictor": "runtimes",
    "OnnxPredictor": "runtimes",
    "Predictor": "runtimes",
    "SavedModelPredictor": "runtimes",
    "TFLitePredictor": "runtimes",
    "load_predictor": "runtimes",
    "saved_model_dir": "runtimes",
    "version_dirs": "runtimes",
    "TFLITE_TYPES": "options",
    "INT8_QUANTIZERS": "options",
    "INT8_OUTPUTS": "options",
    "convert_tflite": "tflite",
    "augmented_images": "calibration",
    "quantize_with_ai_edge": "ai_edge",
    "stage_snr": "ai_edge",
    "checked_float_layers": "selective",
    "quantize_except": "selective",
    "non_builtin_ops": "tflite",
}

__all__ = [
    "BYTES_INPUT",
    "DEFAULT_FORMATS",
    "FORMATS",
    "INT8_OUTPUTS",
    "INT8_QUANTIZERS",
    "MAX_CLASS_DROP",
    "PADDING_CLASS",
    "TFLITE_TYPES",
    "ExportCheckError",
    "KerasPredictor",
    "OnnxPredictor",
    "Predictor",
    "SavedModelPredictor",
    "TFLitePredictor",
    "augmented_images",
    "checked_float_layers",
    "class_maps_from_rest_response",
    "convert_tflite",
    "crop_class_maps",
    "export_model",
    "format_check_table",
    "format_class_table",
    "load_predictor",
    "next_version",
    "non_builtin_ops",
    "quantize_except",
    "quantize_with_ai_edge",
    "release_artifacts",
    "rest_request_body",
    "saved_model_dir",
    "stage_snr",
    "version_dirs",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
