"""The export check: each artifact against the Keras model (agreement, mIoU and per-class IoU,
size, latency)."""

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.evaluation.metrics import confusion_matrix, scores_from_confusion
from keras_deconvnet.export.options import MAX_CLASS_DROP
from keras_deconvnet.export.runtimes import Predictor, load_predictor

# The fraction of check pixels whose argmax must equal the Keras model's; int8 is reported only.
MIN_AGREEMENT = {
    "keras": 0.999, "saved_model": 0.999, "onnx": 0.999, "tflite_float32": 0.999, "tflite_float16": 0.995,
}
# A class is held to it only where it covers this share of the check's labelled pixels: the
# IoU of a class of a few hundred pixels moves by points when a handful of them change.
MIN_CLASS_SHARE = 0.001
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
        per_class_iou: each class's IoU on the check masks (NaN where a class is in neither the
            masks nor the predictions), or None without masks.
        worst_drop: (class index, points of IoU lost against the reference) of the class
            that lost most, or None (the reference, no masks, or no class in both).
        max_class_drop: the most points a class may lose, or None if only reported.
    """

    kind: str
    file: str
    size_bytes: int
    agreement: float | None
    min_agreement: float | None
    latency_ms: float
    mean_iou: float | None
    per_class_iou: tuple[float, ...] | None = None
    worst_drop: tuple[int, float] | None = None
    max_class_drop: float | None = None

    @property
    def agrees(self) -> bool:
        return self.min_agreement is None or self.agreement >= self.min_agreement

    @property
    def keeps_classes(self) -> bool:
        return self.max_class_drop is None or self.worst_drop is None or self.worst_drop[1] <= self.max_class_drop

    @property
    def passed(self) -> bool:
        return self.agrees and self.keeps_classes


def check_artifacts(
    reference: Predictor,
    artifacts: Mapping[str, Path],
    images: np.ndarray,
    masks: np.ndarray | None = None,
    *,
    latency_runs: int = 20,
    num_threads: int | None = None,
    min_agreement: Mapping[str, float] = MIN_AGREEMENT,
    max_class_drop: Mapping[str, float] = MAX_CLASS_DROP,
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
        max_class_drop: {kind: the most points of IoU a class may lose against the reference};
            applies where `masks` are given.

    Returns:
        One row for the reference, then one per artifact.
    """
    expected = reference.class_map(images)
    held = None if masks is None else held_classes(masks, reference.num_classes)
    rows = []
    for kind, path in {"reference": None, **artifacts}.items():
        predictor = reference if path is None else load_predictor(path, num_threads)
        predicted = predictor.class_map(images)
        scores = None if masks is None else scores_from_confusion(confusion_matrix(masks, predicted, predictor.num_classes))
        per_class = None if scores is None else tuple(scores["per_class_iou"])
        rows.append(
            CheckRow(
                kind=kind,
                file=path.name if path else "",
                size_bytes=_disk_size(path) if path else 0,
                agreement=float(np.mean(predicted == expected)) if path else None,
                min_agreement=min_agreement.get(kind) if path else None,
                latency_ms=median_latency_ms(predictor, images[0], latency_runs),
                mean_iou=None if scores is None else scores["mean_iou"],
                per_class_iou=per_class,
                worst_drop=worst_drop(rows[0].per_class_iou, per_class, held) if path and per_class else None,
                max_class_drop=max_class_drop.get(kind) if path and per_class else None,
            )
        )
    return rows


def held_classes(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """Which classes cover at least MIN_CLASS_SHARE of the masks' labelled pixels (bool (C,))."""
    masks = np.asarray(masks)
    counts = np.bincount(masks[masks != IGNORE_LABEL].ravel(), minlength=num_classes)[:num_classes]
    return counts >= MIN_CLASS_SHARE * max(counts.sum(), 1)


def worst_drop(reference: Sequence[float], artifact: Sequence[float], held: np.ndarray) -> tuple[int, float] | None:
    """(class, points lost) of the class whose IoU fell most, among the `held` classes both score."""
    drops = [(100 * (ref - iou), index) for index, (ref, iou) in enumerate(zip(reference, artifact))
             if held[index] and not (np.isnan(ref) or np.isnan(iou))]
    if not drops:
        return None
    drop, index = max(drops)
    return index, drop


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
        if not row.agrees:
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


def format_class_table(rows: Sequence[CheckRow], class_names: Sequence[str]) -> str:
    """Each class's IoU on the check images, for the reference and each artifact, with the
    class an int8 file lost most marked; empty without masks."""
    scored = [row for row in rows if row.per_class_iou is not None]
    if not scored:
        return ""
    names = ["Keras model" if row.kind == "reference" else row.kind for row in scored]
    lines = ["| class | " + " | ".join(names) + " |", "|---|" + "---:|" * len(scored)]
    for index, name in enumerate(class_names):
        cells = []
        for row in scored:
            iou = row.per_class_iou[index]
            cell = "-" if np.isnan(iou) else f"{100 * iou:.2f}%"
            if row.worst_drop and row.worst_drop[0] == index and row.max_class_drop is not None:
                cell += f" (-{row.worst_drop[1]:.2f}{'' if row.keeps_classes else ' FAILED'})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
