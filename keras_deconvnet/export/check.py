"""The export check: each artifact against the Keras model (agreement, mIoU, size, latency)."""

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_deconvnet.export.runtimes import Predictor, load_predictor
from keras_deconvnet.metrics import confusion_matrix, scores_from_confusion

# The fraction of check pixels whose argmax must equal the Keras model's; int8 is reported only.
MIN_AGREEMENT = {
    "keras": 0.999, "saved_model": 0.999, "onnx": 0.999, "tflite_float32": 0.999, "tflite_float16": 0.995,
}
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
