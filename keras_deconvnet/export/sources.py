"""Where an export's int8 calibration and check images come from, and loading them.

The dataset the model was trained on is named by the run's config.json beside it (a run
folder's best.keras or last.keras) unless the caller says otherwise; images come at the
model's input size, and `augmented_calibration` adds copies that look like new scenes.
Used by `export` and `int8-sensitivity`, and from Python:

    >>> source = data_source("runs/latest/last.keras", needs_calibration=True)
    >>> images, masks, info = dataset_images(source, "val", 32, model)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_deconvnet.datasets import DatasetInfo, label_options, load_split
from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.run_folder import RunFolder

if TYPE_CHECKING:
    import keras


@dataclasses.dataclass(frozen=True)
class DataSource:
    """The dataset an export calibrates int8 on and checks with, and how to load it."""

    name: str
    data_dir: str | None = None
    ignore_label: int = 255
    options: dict = dataclasses.field(default_factory=dict)  # e.g. the demo set's size


def run_config(model_path: str) -> dict:
    """The config.json of the training run beside the model (a run folder's best.keras), or {}."""
    folder = RunFolder.of_checkpoint(model_path)
    return folder.read_config() if folder.config.is_file() else {}


def data_source(
    model_path: str,
    dataset: str | None = None,
    data_dir: str | None = None,
    ignore_label: int | None = None,
    needs_calibration: bool = False,
) -> DataSource:
    """`dataset`, else the one the model was trained on (its run's config.json), else demo for
    the check only; the run's data folder, ignore label and options where the dataset is its own.

    Raises:
        UsageError: int8 needs calibration images and nothing says what the model was trained on.
    """
    run = run_config(model_path)
    name = dataset or run.get("dataset")
    if name is None and needs_calibration:
        raise UsageError(
            f"int8 needs calibration images of the data {model_path} was trained on and no run config.json "
            "beside it says which: pass --calibration-dataset (and --data-dir), or --tflite-types float32,float16"
        )
    recorded = run if name == run.get("dataset") else {}  # the run's folder and options fit its dataset only
    return DataSource(
        name or "demo",
        data_dir or recorded.get("data_dir"),
        recorded.get("ignore_label", 255) if ignore_label is None else ignore_label,
        recorded.get("dataset_options") or {},
    )


def dataset_images(
    source: DataSource, split: str, count: int, model: keras.Model
) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """Up to `count` images and masks of a split at the model's input size, and the DatasetInfo.

    Raises:
        UsageError: the dataset's classes differ from the model's, or the split is empty.
    """
    from keras_deconvnet.data.pipeline import evaluation_pipeline
    from keras_deconvnet.models import model_input_size

    num_classes = model.output_shape[-1]
    options = {**source.options, **label_options(source.name, num_classes, source.ignore_label)}
    dataset, info = load_split(source.name, split, source.data_dir, **options)
    if info.num_classes != num_classes:
        raise UsageError(
            f"the model predicts {num_classes} classes but {info.name} has {info.num_classes}; "
            "pass the dataset the model was trained on with --calibration-dataset"
        )
    batches = evaluation_pipeline(
        dataset.take(count), num_classes=info.num_classes, ignore_label=info.ignore_label,
        input_size=model_input_size(model), batch_size=16,
    )
    pairs = [(images.numpy(), masks.numpy()) for images, masks in batches]
    if not pairs:
        raise UsageError(f"the {split} split of {info.name} has no images")
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]), info


def augmented_calibration(source: DataSource, split: str, count: int, model: keras.Model) -> np.ndarray:
    """An augmented copy of each of the first `count` images of a split, at the model's size."""
    from keras_deconvnet.export.calibration import augmented_images
    from keras_deconvnet.models import model_input_size

    options = {**source.options, **label_options(source.name, model.output_shape[-1], source.ignore_label)}
    dataset, info = load_split(source.name, split, source.data_dir, **options)
    return augmented_images(
        dataset, num_classes=info.num_classes, ignore_label=info.ignore_label, input_size=model_input_size(model),
        count=count,
    )
