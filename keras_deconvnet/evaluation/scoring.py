"""Measuring a model on a split: one confusion matrix over the whole split.

Works for every format `keras_deconvnet.export.load_predictor` opens (`.keras`,
SavedModel, `.tflite`), so exported models are measured exactly as trained ones.
"""

import csv
from pathlib import Path

import numpy as np

from keras_deconvnet.constants import EVALUATION_MODES
from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation.metrics import confusion_matrix, scores_from_confusion
from keras_deconvnet.evaluation.tta import TestTimeAugmentation


def segment(predictor, image: np.ndarray, tta: TestTimeAugmentation | None = None) -> np.ndarray:
    """Class map of one image at its own resolution.

    The image is resized to the model's input size, and the logits are resized back
    (bilinear) before the argmax, so the map matches the original labels pixel for pixel.
    With `tta`, the logits of its views are averaged first. A file that gives the class map
    itself (`export --int8-output classes`) has its map resized back (nearest), without TTA.

    Args:
        predictor: a `keras_deconvnet.export` predictor.
        image: (H, W, 3) RGB, 0..255.
        tta: the views to average; None for the plain prediction.

    Returns:
        int32 (H, W) class indices.
    """
    if getattr(predictor, "gives_classes", False):
        return _resized_class_map(predictor, image, tta)
    logits = (tta or TestTimeAugmentation()).logits(predictor, image)
    return np.argmax(logits, axis=-1).astype(np.int32)


def _resized_class_map(predictor, image: np.ndarray, tta: TestTimeAugmentation | None) -> np.ndarray:
    """The class map of a file that gives one, at the image's resolution (nearest neighbour)."""
    from keras import ops

    if tta is not None and tta.views > 1:
        raise UsageError("this file gives the class map, not logits, so test-time augmentation cannot average "
                         "its views: drop --tta and --tta-scales, or export it with --int8-output int8 or float")
    height, width = image.shape[:2]
    resized = ops.convert_to_numpy(ops.image.resize(np.asarray(image, "float32")[None], predictor.input_size))
    classes = predictor.class_map(resized)[0]
    rows = np.arange(height) * classes.shape[0] // height
    columns = np.arange(width) * classes.shape[1] // width
    return classes[rows[:, None], columns[None, :]].astype(np.int32)


def check_classes(predictor, info) -> None:
    """Raises a UsageError unless the model predicts the dataset's classes (`info`: its `DatasetInfo`)."""
    if predictor.num_classes != info.num_classes:
        raise UsageError(
            f"the model predicts {predictor.num_classes} classes but {info.name} has "
            f"{info.num_classes}; evaluate it on the dataset it was trained on"
        )


def evaluate(
    predictor,
    split,
    info,
    mode: str = "resize",
    batch_size: int = 8,
    progress=None,
    tta: TestTimeAugmentation | None = None,
) -> dict:
    """Mean IoU, pixel accuracy, per-class IoU and the confusion matrix of a split.

    Args:
        predictor: a `keras_deconvnet.export` predictor.
        split: the raw split (`keras_deconvnet.datasets.load_split`).
        info: its `DatasetInfo`.
        mode: "resize" scores at the model's input size (images bilinear, labels nearest);
            "original" scores at each image's own resolution (see `segment`).
        batch_size: images per call in "resize" mode.
        progress: optional callable wrapping the batch iterator (e.g. a progress bar).
        tta: test-time augmentation (see `segment`), or None.

    Returns:
        `scores_from_confusion`'s dict plus "confusion_matrix" (list of lists) and "images".

    Raises:
        UsageError: the model's classes are not the dataset's.
    """
    from keras_deconvnet.data.pipeline import evaluation_pipeline

    check_classes(predictor, info)
    if mode not in EVALUATION_MODES:
        raise ValueError(f"mode must be one of {EVALUATION_MODES}, got '{mode}'")
    labels = {"num_classes": info.num_classes, "ignore_label": info.ignore_label}
    if mode == "resize":
        batches = evaluation_pipeline(split, **labels, input_size=predictor.input_size, batch_size=batch_size)
    else:
        batches = evaluation_pipeline(split, **labels, input_size=None, batch_size=1, mode="original")
    matrix = np.zeros((info.num_classes, info.num_classes), dtype=np.int64)
    images_seen = 0
    for images, masks in progress(batches) if progress else batches:
        images, masks = images.numpy(), masks.numpy()
        if mode == "resize" and tta is None:
            predictions = predictor.class_map(images)
        else:
            predictions = np.stack([segment(predictor, image, tta) for image in images])
        matrix += confusion_matrix(masks, predictions, info.num_classes)
        images_seen += len(images)
    return {**scores_from_confusion(matrix), "confusion_matrix": matrix.tolist(), "images": images_seen}


def format_scores(scores: dict, class_names) -> str:
    """A per-class IoU table, then pixel accuracy, then mean IoU on the last line."""
    width = max(len(name) for name in class_names)
    lines = [f"{'class':<{width}}  IoU", f"{'-' * width}  ------"]
    for name, iou in zip(class_names, scores["per_class_iou"]):
        lines.append(f"{name:<{width}}  {'  n/a' if np.isnan(iou) else f'{100 * iou:6.2f}'}")
    lines.append(f"pixel accuracy: {100 * scores['pixel_accuracy']:.2f}%")
    lines.append(f"mean IoU: {100 * scores['mean_iou']:.2f}%")
    return "\n".join(lines)


def write_confusion_matrix(matrix, class_names, out_dir: Path) -> tuple[Path, Path]:
    """Writes the confusion matrix as CSV and as a row-normalised PNG heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    matrix = np.asarray(matrix)
    csv_path = out_dir / "confusion_matrix.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *class_names])
        for name, row in zip(class_names, matrix):
            writer.writerow([name, *row.tolist()])
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=90)
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("confusion matrix (rows normalised)")
    figure.tight_layout()
    png_path = out_dir / "confusion_matrix.png"
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return csv_path, png_path
