"""Export a model as `.keras`, a TF Serving SavedModel and TFLite, and check every file.

`export_model(model, "saved_models/NAME", check_images)` writes one new version of NAME:

```
saved_models/NAME/
  3/                        SavedModel, what TF Serving serves (numbered folders only)
    assets.extra/keras_deconvnet.json    its metadata
  NAME_v3.keras, NAME_v3.json
  NAME_v3_float32.tflite, NAME_v3_float32.json    (and _float16, _int8)
```

Everything is written to a hidden temporary folder inside `saved_models/NAME`, measured
against the Keras model on the check images, and only then moved into place, the
SavedModel last (TF Serving picks a version up as soon as its folder appears). A failed
export leaves nothing behind; an existing version or file is never overwritten.

SavedModel signatures (stable names, see the README, "Export and serving"):
- `serving_default`: `images` float32 (B, H, W, 3) RGB 0..255 at the model's size ->
  `class_map` int32 (B, H, W), `probabilities` float32 (B, H, W, C) (softmax).
- `serving_bytes`: `image_bytes` string (B,) encoded JPEG/PNG/BMP/GIF of any size ->
  `class_map` int32 (B, Hmax, Wmax) at each image's ORIGINAL size, padded with -1 to the
  largest image of the batch, and `height`, `width` int32 (B,) to crop it. Each image is
  resized (bilinear) to the model's size; its logits are resized (bilinear) back to the
  original size before the argmax, as `keras_deconvnet.evaluation.segment` does.

TFLite files have batch size 1, built-in ops only, float32 input (RGB 0..255) and float32
logits output, for float16 and int8 too: float16 stores the weights in half precision,
int8 quantises weights and activations (full-integer post-training quantisation with a
representative dataset) between a QUANTIZE and a DEQUANTIZE op.
"""

import base64
import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as tflite_schema

from keras_deconvnet import __version__
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError
from keras_deconvnet.inference import (
    BYTES_SIGNATURE,
    SERVING_SIGNATURE,
    KerasPredictor,
    Predictor,
    load_predictor,
    metadata_path,
    read_metadata,
    model_input_size,
)
from keras_deconvnet.metrics import confusion_matrix, scores_from_confusion

FORMATS = ("keras", "saved_model", "tflite")
TFLITE_TYPES = ("float32", "float16", "int8")
NORMALISATION = "RGB 0..255, model normalises internally"
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
PADDING_CLASS = -1
# The fraction of check pixels whose argmax must equal the Keras model's; int8 is reported only.
MIN_AGREEMENT = {"keras": 0.999, "saved_model": 0.999, "tflite_float32": 0.999, "tflite_float16": 0.995}
_WARMUP_RUNS = 3


@dataclasses.dataclass(frozen=True)
class CheckRow:
    """One artifact measured against the Keras model on the check images.

    Attributes:
        kind: "reference" (the Keras model itself), "keras", "saved_model" or "tflite_<dtype>".
        file: the artifact's name in the export folder ("" for the reference).
        size_bytes: its size on disk (a SavedModel: all its files); 0 for the reference.
        agreement: fraction of pixels whose class equals the Keras model's; None for the reference.
        min_agreement: the agreement the export requires, or None if only reported.
        latency_ms: median time of one single-image class map after warm-up runs.
        mean_iou: mIoU on the check masks, or None without masks.
    """

    kind: str
    file: str
    size_bytes: int
    agreement: float | None
    min_agreement: float | None
    latency_ms: float
    mean_iou: float | None

    @property
    def passed(self) -> bool:
        return self.min_agreement is None or self.agreement >= self.min_agreement


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote: the version, each artifact's final path, and the check."""

    version: int
    artifacts: dict[str, Path]
    checks: list[CheckRow]


class ExportCheckError(UsageError):
    """An artifact disagrees with the Keras model more than allowed; `rows` holds the check."""

    def __init__(self, message: str, rows: list[CheckRow]) -> None:
        super().__init__(message)
        self.rows = rows


def write_saved_model(model: keras.Model, path: str | Path) -> None:
    """Writes a SavedModel with the `serving_default` and `serving_bytes` signatures.

    Args:
        model: a functional model from RGB 0..255 images (B, H, W, 3) to logits (B, H, W, C).
        path: the folder to create (for TF Serving, `saved_models/NAME/<version>`).
    """
    height, width = model_input_size(model)

    def serve(images):
        logits = model(images, training=False)
        return {
            "class_map": tf.argmax(logits, axis=-1, output_type=tf.int32),
            "probabilities": tf.nn.softmax(logits),
        }

    def serve_bytes(image_bytes):
        def decode(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return tf.image.resize(image, (height, width)), tf.shape(image)[:2]

        images, sizes = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=(tf.TensorSpec((height, width, 3)), tf.TensorSpec((2,), tf.int32)),
        )
        logits = model(images, training=False)
        largest = tf.reduce_max(sizes, axis=0)

        def class_map_at_original_size(args):
            image_logits, size = args
            classes = tf.argmax(tf.image.resize(image_logits, size), axis=-1, output_type=tf.int32)
            padding = tf.stack([[0, 0], largest - size], axis=1)
            return tf.pad(classes, padding, constant_values=PADDING_CLASS)

        class_maps = tf.map_fn(
            class_map_at_original_size,
            (logits, sizes),
            fn_output_signature=tf.TensorSpec((None, None), tf.int32),
        )
        return {"class_map": class_maps, "height": sizes[:, 0], "width": sizes[:, 1]}

    # No archive.track(model): add_endpoint tracks the variables it uses, and track() would
    # store every weight a second time (keras-team/keras#23553, Keras 3.15).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        SERVING_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec((None, height, width, 3), tf.float32, name=IMAGES_INPUT)],
    )
    archive.add_endpoint(
        BYTES_SIGNATURE,
        serve_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name=BYTES_INPUT)],
    )
    archive.write_out(str(path), verbose=False)


def convert_tflite(
    model: keras.Model,
    tflite_types: Sequence[str] = TFLITE_TYPES,
    calibration_images: Iterable[np.ndarray] | None = None,
) -> dict[str, bytes]:
    """Converts a model to TFLite flatbuffers of batch size 1 with built-in ops only.

    The model goes through a temporary batch-1 SavedModel (`TFLiteConverter.from_saved_model`,
    as Keras' own LiteRT export does), converted once per type.

    Args:
        model: a functional model from RGB 0..255 images to logits.
        tflite_types: any of "float32", "float16" and "int8".
        calibration_images: for int8, the representative dataset: (H, W, 3) RGB 0..255
            images at the model's size (an (N, H, W, 3) array works); a few hundred are
            enough. Read once.

    Returns:
        {dtype: flatbuffer bytes}.

    Raises:
        UsageError: int8 without calibration images, a failed conversion, or a model that
            needs Flex (TF Select) or custom ops, which are named.
    """
    tflite_types = _checked_choices(tflite_types, TFLITE_TYPES, "TFLite type")
    if "int8" in tflite_types and calibration_images is None:
        raise UsageError("int8 TFLite needs calibration images (a representative dataset)")
    height, width = model_input_size(model)
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        SERVING_SIGNATURE,
        lambda image: {"logits": model(image, training=False)},
        input_signature=[tf.TensorSpec((1, height, width, 3), tf.float32, name="image")],
    )
    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        return {
            dtype: _convert(saved_model, dtype, calibration_images, (height, width)) for dtype in tflite_types
        }


def _convert(saved_model: str, dtype: str, calibration_images, size: tuple[int, int]) -> bytes:
    """One TFLite flatbuffer of the batch-1 SavedModel; fails on non-built-in ops."""
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
    try:
        content = converter.convert()
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


def artifact_metadata(
    model: keras.Model,
    kind: str,
    *,
    class_names: Sequence[str] | None = None,
    palette: np.ndarray | None = None,
    source_model: str | None = None,
) -> dict:
    """The metadata JSON that goes beside (or, for a SavedModel, inside) an artifact.

    Args:
        model: the exported model.
        kind: "keras", "saved_model" or "tflite_<dtype>".
        class_names: C names (default "class_0", ...).
        palette: (C, 3) RGB colours (default the VOC colour map).
        source_model: the path the model was loaded from, if any.

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
    elif kind == "tflite_int8":
        tensors["quantisation"] = (
            "full-integer post-training quantisation: int8 weights and activations, "
            "float32 input and output (QUANTIZE/DEQUANTIZE inside the model)"
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
    if "saved_model" in formats:
        names["saved_model"] = str(version)
    return names


def export_model(
    model: keras.Model,
    out_dir: str | Path,
    check_images: np.ndarray,
    *,
    check_masks: np.ndarray | None = None,
    formats: Sequence[str] = FORMATS,
    tflite_types: Sequence[str] = TFLITE_TYPES,
    calibration_images: Iterable[np.ndarray] | None = None,
    class_names: Sequence[str] | None = None,
    palette: np.ndarray | None = None,
    source_model: str | None = None,
    latency_runs: int = 20,
    num_threads: int | None = None,
    min_agreement: Mapping[str, float] = MIN_AGREEMENT,
) -> ExportResult:
    """Exports a model as a new version of `out_dir`, checks it, and only then publishes it.

    Args:
        model: a functional model from RGB 0..255 images (B, H, W, 3) to logits (B, H, W, C).
        out_dir: the model folder, `saved_models/NAME` (created if needed).
        check_images: float32 (N, H, W, 3) RGB 0..255 at the model's size.
        check_masks: optional int (N, H, W) labels (255 ignored) for the mIoU column.
        formats: any of "keras", "saved_model", "tflite".
        tflite_types: any of "float32", "float16", "int8".
        calibration_images: int8's representative dataset (see `convert_tflite`).
        class_names, palette, source_model: for the metadata (see `artifact_metadata`).
        latency_runs: single-image runs whose median is the latency.
        num_threads: TFLite CPU threads for the check (None: LiteRT's default).
        min_agreement: {kind: required agreement}; kinds absent are only reported.

    Returns:
        The version, each artifact's path and the check rows.

    Raises:
        ExportCheckError: an artifact agrees with the Keras model less than required.
        UsageError: bad arguments, or a conversion that failed or needs non-built-in ops.
        In every case nothing is left behind (not even `out_dir`, if the export created it).

    Example:
        >>> result = export_model(model, "saved_models/camvid", images, check_masks=masks,
        ...                       calibration_images=train_images)
        >>> print(format_check_table(result.checks))
    """
    check_images = _checked_images(check_images, model_input_size(model))
    formats = _checked_choices(formats, FORMATS, "format")
    tflite_types = _checked_choices(tflite_types, TFLITE_TYPES, "TFLite type") if "tflite" in formats else ()
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the export folder {out_dir}: {error}") from None
    version = next_version(out_dir)
    names = artifact_names(out_dir.name, version, formats, tflite_types)
    metadata = {"class_names": class_names, "palette": palette, "source_model": source_model}
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        _write_artifacts(model, staging, names, metadata, calibration_images)
        artifacts = {kind: staging / name for kind, name in names.items()}
        rows = check_artifacts(
            KerasPredictor(model), artifacts, check_images, check_masks,
            latency_runs=latency_runs, num_threads=num_threads, min_agreement=min_agreement,
        )
        failed = [row for row in rows if not row.passed]
        if failed:
            raise ExportCheckError(_failure_message(failed, out_dir), rows)
        _publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
    return ExportResult(version, {kind: out_dir / name for kind, name in names.items()}, rows)


def _checked_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (*size, 3) or not len(images):
        raise UsageError(f"check images must be (N >= 1, {size[0]}, {size[1]}, 3) RGB 0..255, got {images.shape}")
    return images


def _failure_message(failed: Sequence[CheckRow], out_dir: Path) -> str:
    reasons = [
        f"{row.kind} agrees with the Keras model on {100 * row.agreement:.2f}% of pixels, "
        f"below the required {100 * row.min_agreement:.2f}%"
        for row in failed
    ]
    return "; ".join(reasons) + f"; nothing was written to {out_dir}"


def _write_artifacts(model, folder: Path, names: dict[str, str], metadata: dict, calibration_images) -> None:
    tflite_types = [kind.removeprefix("tflite_") for kind in names if kind.startswith("tflite_")]
    if tflite_types:
        for dtype, content in convert_tflite(model, tflite_types, calibration_images).items():
            (folder / names[f"tflite_{dtype}"]).write_bytes(content)
    if "keras" in names:
        model.save(folder / names["keras"])
    if "saved_model" in names:
        write_saved_model(model, folder / names["saved_model"])
    for kind, name in names.items():
        path = metadata_path(folder / name)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(artifact_metadata(model, kind, **metadata), indent=2) + "\n")


def _publish(staging: Path, out_dir: Path) -> None:
    """Moves the staged files into `out_dir`, version folders last; never overwrites."""
    entries = sorted(staging.iterdir(), key=lambda entry: entry.name.isdigit())
    taken = [entry.name for entry in entries if (out_dir / entry.name).exists()]
    if taken:
        raise UsageError(f"{', '.join(taken)} already exist in {out_dir}; another export ran at the same time?")
    for entry in entries:
        os.rename(entry, out_dir / entry.name)


def check_artifacts(
    reference: Predictor,
    artifacts: Mapping[str, Path],
    images: np.ndarray,
    masks: np.ndarray | None = None,
    *,
    latency_runs: int = 20,
    num_threads: int | None = None,
    min_agreement: Mapping[str, float] = MIN_AGREEMENT,
) -> list[CheckRow]:
    """Measures each artifact against the reference predictor (the Keras model).

    Args:
        reference: the Keras model as a predictor.
        artifacts: {kind: path} of the exported files, opened with `load_predictor`.
        images: float32 (N, H, W, 3) RGB 0..255 check images.
        masks: optional (N, H, W) labels, 255 ignored, for mIoU.
        latency_runs: runs whose median is the single-image latency (after 3 warm-up runs).
        num_threads: TFLite CPU threads (None: LiteRT's default).
        min_agreement: {kind: required agreement}.

    Returns:
        One row for the reference, then one per artifact.
    """
    expected = reference.class_map(images)
    rows = []
    for kind, path in {"reference": None, **artifacts}.items():
        predictor = reference if path is None else load_predictor(path, num_threads)
        predicted = predictor.class_map(images)
        rows.append(
            CheckRow(
                kind=kind,
                file=path.name if path else "",
                size_bytes=_disk_size(path) if path else 0,
                agreement=float(np.mean(predicted == expected)) if path else None,
                min_agreement=min_agreement.get(kind) if path else None,
                latency_ms=median_latency_ms(predictor, images[0], latency_runs),
                mean_iou=None if masks is None else _mean_iou(masks, predicted, predictor.num_classes),
            )
        )
    return rows


def _mean_iou(masks: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    return scores_from_confusion(confusion_matrix(masks, predicted, num_classes))["mean_iou"]


def median_latency_ms(predictor: Predictor, image: np.ndarray, runs: int = 20) -> float:
    """Median milliseconds of `runs` single-image class maps, after 3 warm-up runs."""
    batch = image[None]
    for _ in range(_WARMUP_RUNS):
        predictor.class_map(batch)
    times = []
    for _ in range(max(runs, 1)):
        start = time.perf_counter()
        predictor.class_map(batch)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def format_check_table(rows: Sequence[CheckRow]) -> str:
    """The check as a Markdown table: size, agreement with Keras, mIoU, latency."""
    with_iou = any(row.mean_iou is not None for row in rows)
    columns = ["artifact", "file", "size (MB)", "agreement with Keras", "required", *(["mIoU"] if with_iou else [])]
    lines = ["| " + " | ".join([*columns, "latency (ms)"]) + " |", "|---|---|" + "---:|" * (len(columns) - 1)]
    for row in rows:
        required = "reported" if row.min_agreement is None else f"{100 * row.min_agreement:.1f}%"
        if not row.passed:
            required += " FAILED"
        cells = [
            "Keras model (reference)" if row.kind == "reference" else row.kind,
            row.file or "-",
            f"{row.size_bytes / 1e6:.1f}" if row.size_bytes else "-",
            "-" if row.agreement is None else f"{100 * row.agreement:.3f}%",
            "-" if row.kind == "reference" else required,
        ]
        if with_iou:
            cells.append("-" if row.mean_iou is None else f"{100 * row.mean_iou:.2f}%")
        cells.append(f"{row.latency_ms:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rest_request_body(image_bytes_list: Sequence[bytes], signature_name: str = BYTES_SIGNATURE) -> str:
    """The JSON body of a TF Serving REST `:predict` request for the bytes signature.

    Each encoded image becomes one instance `{"b64": ...}` (TF Serving's encoding of binary
    strings), which the server decodes into the signature's one string input.

    Args:
        image_bytes_list: encoded JPEG/PNG files, as read from disk.
        signature_name: the signature to call.

    Returns:
        `{"signature_name": ..., "instances": [{"b64": ...}, ...]}` as a string.
    """
    instances = [{"b64": base64.b64encode(data).decode("ascii")} for data in image_bytes_list]
    return json.dumps({"signature_name": signature_name, "instances": instances})


def crop_class_maps(class_maps: Sequence, heights: Sequence[int], widths: Sequence[int]) -> list[np.ndarray]:
    """The `serving_bytes` outputs as one int32 (height, width) class map per image."""
    return [
        np.asarray(class_map, dtype=np.int32)[: int(height), : int(width)]
        for class_map, height, width in zip(class_maps, heights, widths)
    ]


def class_maps_from_rest_response(response: Mapping) -> list[np.ndarray]:
    """The class maps in TF Serving's REST answer (`{"predictions": [...]}`) to `serving_bytes`."""
    predictions = response["predictions"]
    return crop_class_maps(
        [p["class_map"] for p in predictions], [p["height"] for p in predictions], [p["width"] for p in predictions]
    )


def _checked_choices(values: Sequence[str], choices: Sequence[str], what: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(values))
    unknown = [value for value in values if value not in choices]
    if unknown or not values:
        raise UsageError(f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(choices)}")
    return values


def _last_error_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def release_artifacts(artifacts: Mapping[str, Path], name: str, extra_metadata: Mapping | None = None) -> dict[str, Path]:
    """Gives an export's `.keras` and `.tflite` files the stable names of a release.

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
        suffix = ".keras" if kind == "keras" else f"_{kind.removeprefix('tflite_')}.tflite"
        target = Path(path).with_name(f"{name}{suffix}")
        metadata = {**read_metadata(path), **(extra_metadata or {})}
        metadata_path(target).write_text(json.dumps(metadata, indent=2))
        metadata_path(path).unlink(missing_ok=True)
        os.replace(path, target)
        released[kind] = target
    return released
