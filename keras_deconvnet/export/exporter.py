"""`export_model`: write every artifact to a staging folder, check it, then publish it."""

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.check import MIN_AGREEMENT, CheckRow, check_artifacts
from keras_deconvnet.export.formats import metadata_path
from keras_deconvnet.export.metadata import artifact_metadata, artifact_names, next_version, tflite_io_metadata
from keras_deconvnet.export.onnx import write_onnx
from keras_deconvnet.export.options import DEFAULT_FORMATS, FORMATS, MAX_CLASS_DROP, TFLITE_TYPES
from keras_deconvnet.export.runtimes import KerasPredictor
from keras_deconvnet.export.saved_model import write_saved_model
from keras_deconvnet.export.selective import checked_float_layers
from keras_deconvnet.export.tflite import (
    _checked_choices,
    check_int8_method,
    convert_tflite,
    float_ops,
    tflite_io,
)
from keras_deconvnet.models import model_input_size
from keras_deconvnet.models.precision import float32_model

# The hidden folder an export writes into before publishing; TF Serving ignores it.
STAGING_PREFIX = ".export-"
_OWNER = "owner.pid"  # inside it: HOST:PID of the process writing it
_OWNERLESS_SECONDS = 3600



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


def export_model(
    model: keras.Model,
    out_dir: str | Path,
    check_images: np.ndarray,
    *,
    check_masks: np.ndarray | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    tflite_types: Sequence[str] = TFLITE_TYPES,
    calibration_images: Iterable[np.ndarray] | None = None,
    class_names: Sequence[str] | None = None,
    palette: np.ndarray | None = None,
    source_model: str | None = None,
    latency_runs: int = 20,
    num_threads: int | None = None,
    min_agreement: Mapping[str, float] = MIN_AGREEMENT,
    max_class_drop: Mapping[str, float] = MAX_CLASS_DROP,
    int8_float_layers: Sequence[str] = (),
    int8_quantizer: str = "converter",
    int8_output: str = "int8",
    calibration_description: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Exports a model as a new version of `out_dir`, checks it, and only then publishes it.

    Args:
        model: a functional model from RGB 0..255 images (B, H, W, 3) to logits (B, H, W, C);
            one trained with mixed precision is exported computing in float32.
        out_dir: the model folder, `saved_models/NAME` (created if needed).
        check_images: float32 (N, H, W, 3) RGB 0..255 at the model's size.
        check_masks: optional int (N, H, W) labels (255 ignored) for the mIoU column.
        formats: any of "keras", "saved_model", "tflite", "onnx".
        tflite_types: any of "float32", "float16", "int8".
        calibration_images: int8's representative dataset (see `convert_tflite`).
        class_names, palette, source_model: for the metadata (see `artifact_metadata`).
        latency_runs: single-image runs whose median is the latency.
        num_threads: TFLite CPU threads for the check (None: LiteRT's default).
        min_agreement: {kind: required agreement}; kinds absent are only reported.
        max_class_drop: {kind: the most points of IoU a class of the check masks may lose
            against the Keras model}; kinds absent are only reported.
        int8_float_layers: layers or nested models the int8 TFLite file keeps in float32
            (see `convert_tflite`).
        int8_quantizer, int8_output: how the int8 TFLite file is quantised and what it gives
            (see `convert_tflite`).
        calibration_description: what int8 was calibrated on, for its metadata
            ("200 images of camvid/train").
        progress: called with a line naming each stage as it starts (a conversion, the check);
            an exception it raises (a deferred Ctrl-C) stops the export as cleanly as any other.

    Returns:
        The version, each artifact's path and the check rows.

    Raises:
        ExportCheckError: an artifact agrees with the Keras model less than required, or
            loses more IoU on a class of the check masks than allowed.
        UsageError: bad arguments, or a conversion that failed or needs non-built-in ops.
        In every case nothing is left behind (not even `out_dir` and the folders above it that
        the export created).

    Example:
        >>> result = export_model(model, "saved_models/camvid", images, check_masks=masks,
        ...                       calibration_images=train_images)
        >>> print(format_check_table(result.checks))
    """
    model = float32_model(model)  # a --mixed-precision model: float32 files, as the metadata says
    check_images = _checked_images(check_images, model_input_size(model))
    formats = _checked_choices(formats, FORMATS, "format")
    tflite_types = _checked_choices(tflite_types, TFLITE_TYPES, "TFLite type") if "tflite" in formats else ()
    if int8_float_layers and "int8" not in tflite_types:
        raise UsageError("int8_float_layers are kept float in the int8 TFLite file: export tflite with the int8 type")
    float_layers = checked_float_layers(model, int8_float_layers)
    check_int8_method(int8_quantizer, int8_output)
    int8 = {"int8_float_layers": float_layers, "int8_quantizer": int8_quantizer, "int8_output": int8_output}
    out_dir = Path(out_dir)
    absolute = out_dir.absolute()  # its parents, not those of a path such as new/../x
    created = [folder for folder in (absolute, *absolute.parents) if not folder.exists()]  # innermost first
    report = progress or (lambda stage: None)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the export folder {out_dir}: {error}") from None
    version = next_version(out_dir)
    names = artifact_names(out_dir.name, version, formats, tflite_types)
    metadata = {"class_names": class_names, "palette": palette, "source_model": source_model,
                "calibration": calibration_description}
    for stale in remove_stale_staging(out_dir):
        report(f"removed {stale}, left in {out_dir} by an export that was killed")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    try:
        (staging / _OWNER).write_text(_owner())
        _write_artifacts(model, staging, names, metadata, calibration_images, int8, report)
        artifacts = {kind: staging / name for kind, name in names.items()}
        report("checking every file against the Keras model")
        rows = check_artifacts(
            KerasPredictor(model), artifacts, check_images, check_masks,
            latency_runs=latency_runs, num_threads=num_threads, min_agreement=min_agreement,
            max_class_drop=max_class_drop,
        )
        failed = [row for row in rows if not row.passed]
        if failed:
            raise ExportCheckError(_failure_message(failed, out_dir, class_names), rows)
        report(f"publishing version {version} in {out_dir}")
        _publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):  # the error that got here matters more
            for folder in created:
                if any(folder.iterdir()):
                    break
                folder.rmdir()
    return ExportResult(version, {kind: out_dir / name for kind, name in names.items()}, rows)


def _checked_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (*size, 3) or not len(images):
        raise UsageError(f"check images must be (N >= 1, {size[0]}, {size[1]}, 3) RGB 0..255, got {images.shape}")
    return images


def _failure_message(failed: Sequence[CheckRow], out_dir: Path, class_names: Sequence[str] | None) -> str:
    reasons = []
    for row in failed:
        if not row.agrees:
            reasons.append(
                f"{row.kind} agrees with the Keras model on {100 * row.agreement:.2f}% of pixels, "
                f"below the required {100 * row.min_agreement:.2f}%"
            )
        if not row.keeps_classes:
            index, drop = row.worst_drop
            name = class_names[index] if class_names is not None else f"class_{index}"
            reasons.append(
                f"{row.kind} loses {drop:.2f} points of {name} IoU on the check images, more than the "
                f"{row.max_class_drop:g} allowed (keep its first stages float with --int8-float-layers, "
                "or allow more with --int8-max-class-drop)"
            )
    return "; ".join(reasons) + f"; nothing was written to {out_dir}"


def remove_stale_staging(out_dir: Path) -> list[str]:
    """Deletes the hidden staging folders of exports that were killed (`kill -9`, a crash)
    before they could clean up: those whose owner process on this machine is gone, and those
    without an owner left for an hour. Returns their names."""
    removed = []
    for folder in sorted(out_dir.glob(f"{STAGING_PREFIX}*")):
        if folder.is_dir() and _stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _stale(staging: Path) -> bool:
    try:
        host, _, pid = (staging / _OWNER).read_text().rpartition(":")
        pid = int(pid)
    except (OSError, ValueError):  # no owner: an export just starting, or one killed before it wrote one
        return time.time() - staging.stat().st_mtime > _OWNERLESS_SECONDS
    if host != socket.gethostname():  # another machine's export on shared storage: not ours to judge
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def _write_artifacts(
    model, folder: Path, names: dict[str, str], metadata: dict, calibration_images, int8: dict,
    report: Callable[[str], None],
) -> None:
    """Writes each artifact and its metadata; `int8` holds convert_tflite's int8 arguments, and
    `metadata` artifact_metadata's arguments with the int8 file's "calibration"."""
    metadata = dict(metadata)
    calibration = metadata.pop("calibration", None)
    tflite_types = [kind.removeprefix("tflite_") for kind in names if kind.startswith("tflite_")]
    int8_float_ops, tensors = {}, {}
    if tflite_types:
        calibrated = " (int8 calibrated on the representative images)" if "int8" in tflite_types else ""
        report(f"converting to TFLite {', '.join(tflite_types)}{calibrated}")
        for dtype, content in convert_tflite(model, tflite_types, calibration_images, **int8).items():
            (folder / names[f"tflite_{dtype}"]).write_bytes(content)
            tensors[f"tflite_{dtype}"] = tflite_io_metadata(tflite_io(content))
            if dtype == "int8":
                int8_float_ops = float_ops(content)
    if "keras" in names:
        report("writing the .keras file")
        model.save(folder / names["keras"])
    if "saved_model" in names:
        report("writing the SavedModel")
        write_saved_model(model, folder / names["saved_model"])
    if "onnx" in names:
        report("converting to ONNX")
        write_onnx(model, folder / names["onnx"])
    for kind, name in names.items():
        path = metadata_path(folder / name)
        path.parent.mkdir(exist_ok=True)
        content = {**artifact_metadata(model, kind, **metadata, **int8), **tensors.get(kind, {})}
        if kind == "tflite_int8":
            # What computes in float32: the --int8-float-layers, and ops a quantiser has no int8 kernel for
            content["float_ops"] = int8_float_ops
            if calibration:
                content["calibration"] = calibration
        path.write_text(json.dumps(content, indent=2) + "\n")


def _publish(staging: Path, out_dir: Path) -> None:
    """Moves the staged files into `out_dir`, version folders last; never overwrites."""
    staged = [entry for entry in staging.iterdir() if entry.name != _OWNER]
    entries = sorted(staged, key=lambda entry: entry.name.isdigit())
    taken = [entry.name for entry in entries if (out_dir / entry.name).exists()]
    if taken:
        raise UsageError(f"{', '.join(taken)} already exist in {out_dir}; another export ran at the same time?")
    for entry in entries:
        os.rename(entry, out_dir / entry.name)
