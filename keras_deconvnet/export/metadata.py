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
        **_tensor_metadata(kind, height, width, num_classes, int8_float_layers),
        "model_name": model.name,
        "source_model": source_model,
        "keras_deconvnet_version": __version__,
    }


def _tensor_metadata(kind: str, height: int, width: int, num_classes: int, int8_float_layers: Sequence[str]) -> dict:
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
    elif kind == "tflite_int8" and int8_float_layers:
        tensors["float_layers"] = list(int8_float_layers)
        tensors["quantisation"] = (
            "post-training quantisation with the ops of the float_layers in float32, the ops the int8 "
            "converter quantises elsewhere in int8; float32 input and logits (QUANTIZE and DEQUANTIZE ops "
            "inside the model)"
        )
    elif kind == "tflite_int8":
        tensors["output"] = {
            **tensors["output"],
            "dtype": "int8",
            "values": "logits = scale * (value - zero_point), the output tensor's quantization; "
            "the argmax of the int8 values is the class map",
        }
        tensors["quantisation"] = (
            "full-integer post-training quantisation: int8 weights, activations and logits, "
            "float32 input (a QUANTIZE op inside the model)"
        )
    return tensors


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
