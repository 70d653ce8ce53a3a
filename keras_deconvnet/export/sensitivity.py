"""Which stages to keep float32 in an int8 file, by measurement: each candidate int8 file's
per-class IoU on a split the model did not train on, and its latency beside the float32
file's, timed in turns so both see the same machine.

A candidate is a quantiser ("converter" or "ai-edge-quantizer") and the layers or stages it
keeps float32; the default candidates are each quantiser with nothing float, then with each
top-level stage alone in float (`int8-sensitivity`). The table names the class each candidate
loses most, so the choice is made by classes, not only by the mean.
"""

import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.evaluation.metrics import confusion_matrix, scores_from_confusion
from keras_deconvnet.export.check import held_classes, worst_drop
from keras_deconvnet.export.runtimes import KerasPredictor, Predictor, load_predictor
from keras_deconvnet.export.tflite import convert_tflite


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to make the int8 file: the quantiser and what it keeps float32."""

    quantizer: str = "converter"
    float_layers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.quantizer}, float: {','.join(self.float_layers) or 'none'}"


@dataclasses.dataclass(frozen=True)
class CandidateRow:
    """A candidate int8 file measured on the split.

    Attributes:
        candidate: how it was made.
        mean_iou: its mIoU (0..1); `per_class_iou` each class's (NaN where absent).
        worst_drop: (class, points lost against the float model) of the class that lost most
            among those with enough of the labelled pixels (`check.held_classes`), or None.
        latency_ms, float32_latency_ms: median single-image times of the int8 file and of
            the float32 file, timed in turns.
        size_bytes: the int8 file's size.
    """

    candidate: Candidate
    mean_iou: float
    per_class_iou: tuple[float, ...]
    worst_drop: tuple[int, float] | None
    latency_ms: float
    float32_latency_ms: float
    size_bytes: int


def stage_names(model: keras.Model) -> list[str]:
    """The model's top-level stages: its layers that are models themselves, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.Model)]


def default_candidates(model: keras.Model, quantizers: Sequence[str]) -> list[Candidate]:
    """Each quantiser with nothing float, then each quantiser with each stage alone float."""
    layers = [(), *((stage,) for stage in stage_names(model))]
    return [Candidate(quantizer, float_layers) for float_layers in layers for quantizer in quantizers]


def scores(predictor: Predictor, images: np.ndarray, masks: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """(mIoU, per-class IoU) of a predictor's class maps."""
    result = scores_from_confusion(confusion_matrix(masks, predictor.class_map(images), predictor.num_classes))
    return result["mean_iou"], tuple(result["per_class_iou"])


def paired_latency_ms(first: Predictor, second: Predictor, image: np.ndarray, runs: int) -> tuple[float, float]:
    """Median single-image milliseconds of two predictors, timed alternately after warm-up."""
    batch = image[None]
    times = ([], [])
    for run in range(runs + 3):
        for index, predictor in enumerate((first, second)):
            start = time.perf_counter()
            predictor.class_map(batch)
            if run >= 3:
                times[index].append(time.perf_counter() - start)
    return 1000 * float(np.median(times[0])), 1000 * float(np.median(times[1]))


def measure_candidates(
    model: keras.Model,
    candidates: Sequence[Candidate],
    calibration_images: np.ndarray,
    images: np.ndarray,
    masks: np.ndarray,
    *,
    latency_runs: int = 20,
    num_threads: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> tuple[tuple[float, ...], list[CandidateRow]]:
    """Converts and measures each candidate against the Keras model.

    Args:
        model: the trained model, at its deployment input size.
        candidates: the int8 files to make.
        calibration_images: float32 (N, H, W, 3) RGB 0..255, int8's representative dataset.
        images, masks: the split to score on, at the model's size (masks 255 = ignore).
        latency_runs: timed runs of each file (after 3 warm-up runs).
        num_threads: LiteRT threads for the latencies.
        progress: called with a line as each candidate starts.

    Returns:
        The Keras model's per-class IoU, and one row per candidate.
    """
    report = progress or (lambda line: None)
    reference = KerasPredictor(model)
    reference_iou = scores(reference, images, masks)[1]
    held = held_classes(masks, reference.num_classes)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        float32_path = Path(folder, "float32.tflite")
        float32_path.write_bytes(convert_tflite(model, ["float32"])["float32"])
        float32 = load_predictor(float32_path, num_threads)
        for number, candidate in enumerate(candidates, 1):
            report(f"[{number}/{len(candidates)}] int8 with {candidate.name}")
            path = Path(folder, f"candidate_{number}.tflite")
            content = convert_tflite(
                model, ["int8"], calibration_images, int8_float_layers=candidate.float_layers,
                int8_quantizer=candidate.quantizer,
            )["int8"]
            path.write_bytes(content)
            predictor = load_predictor(path, num_threads)
            mean_iou, per_class = scores(predictor, images, masks)
            latency, float32_latency = paired_latency_ms(predictor, float32, images[0], latency_runs)
            rows.append(CandidateRow(
                candidate, mean_iou, per_class, worst_drop(reference_iou, per_class, held), latency,
                float32_latency, len(content),
            ))
    return reference_iou, rows


def format_sensitivity_table(
    reference_iou: Sequence[float], rows: Sequence[CandidateRow], class_names: Sequence[str]
) -> str:
    """A Markdown table: the float model, then each candidate's mIoU, worst class and the
    latencies; then each class's IoU per candidate."""
    reference_mean = float(np.nanmean(reference_iou))
    lines = [
        "| int8 file | mIoU | vs float | class that lost most | int8 ms | float32 ms | int8 / float32 |",
        "|---|---:|---:|---|---:|---:|---:|",
        f"| float model (Keras) | {100 * reference_mean:.2f} | - | - | - | - | - |",
    ]
    for row in rows:
        worst = "-" if row.worst_drop is None else f"{class_names[row.worst_drop[0]]} -{row.worst_drop[1]:.2f}"
        lines.append(
            f"| {row.candidate.name} | {100 * row.mean_iou:.2f} | {100 * (row.mean_iou - reference_mean):+.2f} | "
            f"{worst} | {row.latency_ms:.2f} | {row.float32_latency_ms:.2f} | "
            f"{row.latency_ms / row.float32_latency_ms:.2f} |"
        )
    lines += ["", "| class | float | " + " | ".join(str(n) for n in range(1, len(rows) + 1)) + " |",
              "|---|---:|" + "---:|" * len(rows)]
    for index, name in enumerate(class_names):
        cells = [reference_iou[index], *(row.per_class_iou[index] for row in rows)]
        lines.append(f"| {name} | " + " | ".join("-" if np.isnan(c) else f"{100 * c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def rows_as_json(reference_iou: Sequence[float], rows: Sequence[CandidateRow], class_names: Sequence[str]) -> dict:
    """The measurement as JSON-ready figures (points of IoU, milliseconds)."""

    def points(values):
        return {name: None if np.isnan(v) else round(100 * v, 2) for name, v in zip(class_names, values)}

    return {
        "float": {"mean_iou": round(100 * float(np.nanmean(reference_iou)), 2), "per_class_iou": points(reference_iou)},
        "candidates": [
            {
                "quantizer": row.candidate.quantizer,
                "float_layers": list(row.candidate.float_layers),
                "mean_iou": round(100 * row.mean_iou, 2),
                "per_class_iou": points(row.per_class_iou),
                "worst_class": None if row.worst_drop is None else class_names[row.worst_drop[0]],
                "worst_drop": None if row.worst_drop is None else round(row.worst_drop[1], 2),
                "latency_ms": round(row.latency_ms, 3),
                "float32_latency_ms": round(row.float32_latency_ms, 3),
                "size_bytes": row.size_bytes,
            }
            for row in rows
        ],
    }
