"""The metadata JSON of each artifact, version numbers, and artifact names (versioned and released)."""

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet import __version__
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.formats import BYTES_SIGNATURE, SERVING_SIGNATURE, metadata_path, read_metadata
from keras_deconvnet.export.saved_model import BYTES_INPUT, IMAGES_INPUT, PADDING_CLASS
from keras_deconvnet.models import model_input_size

NORMALISATION = "RGB 0..255, model normalises internally"


def artifact_metadata(
    model: keras.Model,
    kind: str,
    *,
    class_names: Sequence[str] | None = None,
    palette: np.ndarray | None = None,
    source_model: str | None = None,
    int8_float_layers: Sequence[str] = (),
    int8_quantizer: str = "converter",
    int8_output: str = "int8",
) -> dict:
    """The metadata JSON that goes beside (or, for a SavedModel, inside) an artifact.

    Args:
        model: the exported model.
        kind: "keras", "saved_model", "onnx" or "tflite_<dtype>".
        class_names: C names (default "class_0", ...).
        palette: (C, 3) RGB colours (default the VOC colour map).
        source_model: the path the model was loaded from, if any (export.py records it
            relative to its working directory when it lies under it).
        int8_float_layers: the layers an int8 TFLite file keeps in float32 (it then gives
            float32 logits); for other kinds ignored.
        int8_quantizer, int8_output: how the int8 TFLite file was made and what it gives
            (see `convert_tflite`); for other kinds ignored.

    Returns:
        A JSON-ready dict: input size, num_classes, class names, palette, normalisation,
        dtype, tensors, source model and the keras_deconvnet version.
    """
    height, width = model_input_size(model)
    num_classes = model.output_shape[-1]
    names = list(class_names) if class_names is not None else [f"class_{i}" for i in range(num_classes)]
    colours = np.asarray(palette if palette is not None else voc_palette()[:num_classes])
    if len(names) != num_classes or colours.shape != (num_classes, 3):
        raise UsageError(
            f"the model has {num_classes} classes but got {len(names)} class names and a "
            f"palette of shape {colours.shape}; use the dataset the model was trained on"
        )
    artifact_format, dtype = ("tflite", kind.removeprefix("tflite_")) if kind.startswith("tflite_") else (kind, "float32")
    return {
        "format": artifact_format,
        "dtype": dtype,
        "input_size": [height, width],
        "num_classes": num_classes,
        "class_names": names,
        "palette": colours.astype(int).tolist(),
        "normalisation": NORMALISATION,
        **_tensor_metadata(kind, height, width, num_classes),
        **(_int8_metadata(int8_float_layers, int8_quantizer, int8_output) if kind == "tflite_int8" else {}),
        "model_name": model.name,
        "source_model": source_model,
        "keras_deconvnet_version": __version__,
    }


def _tensor_metadata(kind: str, height: int, width: int, num_classes: int) -> dict:
    if kind == "saved_model":
        return {
            "signatures": {
                SERVING_SIGNATURE: f"{IMAGES_INPUT} float32 (B, {height}, {width}, 3) -> class_map int32 "
                f"(B, {height}, {width}), probabilities float32 (B, {height}, {width}, {num_classes})",
                BYTES_SIGNATURE: f"{BYTES_INPUT} string (B,) encoded images of any size -> class_map int32 "
                f"(B, Hmax, Wmax) at the original sizes, padded with {PADDING_CLASS}; height, width int32 (B,)",
            }
        }
    batch = 1 if kind.startswith("tflite") else None
    tensors = {
        "input": {"shape": [batch, height, width, 3], "dtype": "float32"},
        "output": {"shape": [batch, height, width, num_classes], "dtype": "float32", "values": "logits"},
    }
    if kind == "tflite_float16":
        tensors["quantisation"] = "float16 weights, float32 computation"
    return tensors


def _int8_metadata(float_layers: Sequence[str], quantizer: str, output: str) -> dict:
    """How an int8 file was quantised and what it keeps float (its tensors: `tflite_io_metadata`)."""
    by = "TensorFlow's converter" if quantizer == "converter" else "Google's ai-edge-quantizer"
    if float_layers:
        quantisation = (f"post-training quantisation ({by}) with the ops of the float_layers in float32, the "
                        "other ops in int8 (QUANTIZE and DEQUANTIZE ops at their edges)")
    else:
        quantisation = f"full-integer post-training quantisation ({by}): int8 weights and activations"
    metadata = {"quantisation": quantisation, "quantizer": quantizer, "int8_output": output}
    if float_layers:
        metadata["float_layers"] = list(float_layers)
    return metadata


def tflite_io_metadata(io: Mapping[str, tuple[str, Sequence[int]]]) -> dict:
    """The "input" and "output" entries of a TFLite file's metadata from its tensors as the file
    has them ({"input": (dtype, shape), "output": (dtype, shape)}, `tflite.tflite_io`)."""
    (input_dtype, input_shape), (output_dtype, output_shape) = io["input"], io["output"]
    quantised = "= scale * (value - zero_point), the tensor's quantization"
    tensor_in = {"shape": list(input_shape), "dtype": input_dtype}
    if input_dtype != "float32":
        tensor_in["values"] = f"RGB 0..255 {quantised}"
    tensor_out = {"shape": list(output_shape), "dtype": output_dtype, "values": "logits"}
    if len(output_shape) == 3:
        tensor_out["values"] = "the class map (an ARG_MAX op in the graph)"
    elif output_dtype != "float32":
        tensor_out["values"] = f"logits {quantised}; the argmax of the {output_dtype} values is the class map"
    return {"input": tensor_in, "output": tensor_out}


def next_version(out_dir: str | Path) -> int:
    """1 + the largest version in a model folder: numbered folders and NAME_v<N>* files."""
    out_dir = Path(out_dir)
    pattern = re.compile(rf"{re.escape(out_dir.name)}_v(\d+)(_\w+)?\.\w+")
    versions = [0]
    for child in out_dir.iterdir() if out_dir.is_dir() else []:
        match = pattern.fullmatch(child.name)
        if child.is_dir() and child.name.isdigit():
            versions.append(int(child.name))
        elif match:
            versions.append(int(match.group(1)))
    return max(versions) + 1


def artifact_names(name: str, version: int, formats: Sequence[str], tflite_types: Sequence[str]) -> dict[str, str]:
    """{kind: file or folder name} of one export, the SavedModel (version folder) last."""
    names = {}
    if "keras" in formats:
        names["keras"] = f"{name}_v{version}.keras"
    if "tflite" in formats:
        names.update({f"tflite_{dtype}": f"{name}_v{version}_{dtype}.tflite" for dtype in tflite_types})
    if "onnx" in formats:
        names["onnx"] = f"{name}_v{version}.onnx"
    if "saved_model" in formats:
        names["saved_model"] = str(version)
    return names


def release_artifacts(artifacts: Mapping[str, Path], name: str, extra_metadata: Mapping | None = None) -> dict[str, Path]:
    """Gives an export's `.keras`, `.tflite` and `.onnx` files the stable names of a release.

    `NAME_v3.keras` becomes `name.keras` and `NAME_v3_int8.tflite` `name_int8.tflite` (each
    with its metadata JSON), replacing an earlier release of that name, so released models
    in the repository are replaced, never accumulated. The SavedModel keeps its version
    folder, which TF Serving needs.

    Args:
        artifacts: `ExportResult.artifacts`.
        name: the release name, e.g. "best".
        extra_metadata: added to each metadata JSON (e.g. {"evaluation_mode": "original"}).

    Returns:
        {kind: released path}.
    """
    released = {}
    for kind, path in artifacts.items():
        if kind == "saved_model":
            continue
        suffix = {"keras": ".keras", "onnx": ".onnx"}.get(kind) or f"_{kind.removeprefix('tflite_')}.tflite"
        target = Path(path).with_name(f"{name}{suffix}")
        metadata = {**read_metadata(path), **(extra_metadata or {})}
        metadata_path(target).write_text(json.dumps(metadata, indent=2))
        metadata_path(path).unlink(missing_ok=True)
        os.replace(path, target)
        released[kind] = target
    return released
