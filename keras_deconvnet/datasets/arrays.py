"""Splits as NumPy arrays in memory, read straight from their files: the data path without
TensorFlow, for Keras on JAX (a GPU machine that has no TensorFlow, say).

It reads the same sources as the TFDS builders, with the same checks, for `camvid`, `folder`
and `demo` (VOC's archives need TFDS). Splits join with "+" as in TFDS ("train+val"); TFDS's
slices ("train[:80%]") are not offered here. A CamVid or folder split is small enough to hold
decoded: CamVid's 468 frames take about 240 MB.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np

from keras_deconvnet.datasets import camvid_layout, folder_layout
from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.datasets.masks import checked_mask, read_index_png
from keras_deconvnet.datasets.palette import camvid_palette, voc_palette
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import read_rgb

ARRAY_DATASETS = ("camvid", "folder", "demo")


@dataclasses.dataclass
class SplitArrays:
    """A split's examples in file order: images uint8 (H, W, 3) and masks uint8 (H, W) with the
    dataset's own ignore label, which may differ in size from example to example."""

    images: list[np.ndarray]
    masks: list[np.ndarray]
    file_names: list[str]


def load_arrays(
    name: str, split: str, data_dir: str | os.PathLike | None = None, **options
) -> tuple[SplitArrays, DatasetInfo]:
    """Reads a split into memory, checking every label as the TFDS builders do.

    Args:
        name: "camvid", "folder" or "demo".
        split: a split the source offers, or several joined with "+".
        data_dir: the source folder (None for demo).
        **options: as for `keras_deconvnet.datasets.load_split`.

    Returns:
        (arrays, info).

    Raises:
        UsageError: another dataset, an unknown split, a slice, or missing or malformed data.
    """
    if name not in ARRAY_DATASETS:
        raise UsageError(
            f"the NumPy data path reads {', '.join(ARRAY_DATASETS)}, not {name}; "
            "install TensorFlow and use --data-loader tf"
        )
    if "[" in split:
        raise UsageError(
            f"split '{split}': slices need TFDS; with the NumPy data path join whole splits with '+'"
        )
    if name == "demo":
        return _demo_arrays(split, data_dir, **options)
    if data_dir is None:
        raise UsageError(f"--dataset {name} needs --data-dir, the folder that holds it")
    root = Path(data_dir).expanduser().resolve()
    if name == "camvid":
        info, pairs = _camvid_pairs(root, options)
    else:
        info, pairs = _folder_pairs(root, **options)
    parts = _split_parts(split, info)
    return _read_pairs([pair for part in parts for pair in pairs[part]], info), info


def _split_parts(split: str, info: DatasetInfo) -> list[str]:
    parts = [part.strip() for part in split.split("+")]
    if not all(parts):
        raise UsageError(f"split '{split}' has an empty part; join split names with '+', e.g. train+val")
    for part in parts:
        if part not in info.splits:
            raise UsageError(f"{info.name} has no split '{part}'; {info.offered_splits()}")
    return parts


def _camvid_pairs(root: Path, options: dict) -> tuple[DatasetInfo, dict]:
    if options:
        raise UsageError(f"dataset camvid takes no option {', '.join(sorted(options))}")
    if not root.is_dir():
        raise UsageError(f"no CamVid folder at {root}: {camvid_layout.LAYOUT_FIX}")
    pairs = camvid_layout.all_split_pairs(root)
    if not pairs:
        raise UsageError(f"no CamVid split in {root}: {camvid_layout.LAYOUT_FIX}")
    info = DatasetInfo(
        name="camvid",
        num_classes=len(camvid_layout.CLASS_NAMES),
        class_names=camvid_layout.CLASS_NAMES,
        palette=camvid_palette(),
        ignore_label=camvid_layout.IGNORE_LABEL,
        splits=tuple(pairs),
    )
    return info, pairs


def _folder_pairs(
    root: Path,
    num_classes: int | None = None,
    ignore_label: int = 255,
    images_subdir: str = "images",
    masks_subdir: str = "masks",
) -> tuple[DatasetInfo, dict]:
    folder_layout.check_label_options(num_classes, ignore_label)
    if not root.is_dir():
        raise UsageError(f"no such folder: {root} (the folder dataset reads images and labels there)")
    pairs = folder_layout.folder_pairs(root, images_subdir, masks_subdir)
    info = DatasetInfo(
        name="folder",
        num_classes=num_classes,
        class_names=tuple(f"class_{index}" for index in range(num_classes)),
        palette=voc_palette()[:num_classes],
        ignore_label=ignore_label,
        splits=tuple(pairs),
    )
    return info, pairs


def _read_pairs(pairs: list[tuple[Path, Path]], info: DatasetInfo) -> SplitArrays:
    arrays = SplitArrays([], [], [])
    for image_path, label_path in pairs:
        mask = checked_mask(read_index_png(label_path), label_path, info.num_classes, info.ignore_label, image_path)
        arrays.images.append(read_rgb(image_path))
        arrays.masks.append(mask[..., 0])
        arrays.file_names.append(image_path.name)
    return arrays


def _demo_arrays(split: str, data_dir, **options) -> tuple[SplitArrays, DatasetInfo]:
    from keras_deconvnet.datasets.demo_scenes import CLASS_NAMES, PALETTE, SPLITS, demo_example
    from keras_deconvnet.constants import IGNORE_LABEL

    if data_dir is not None:
        raise UsageError("the demo dataset is generated in code: give it no data dir")
    settings = {"seed": 0, "num_train": 400, "num_val": 100, "image_size": 128}
    unknown = sorted(set(options) - set(settings))
    if unknown:
        raise UsageError(f"dataset demo takes no option {', '.join(unknown)} (options: {', '.join(settings)})")
    settings.update(options)
    for option, least in (("seed", 0), ("num_train", 1), ("num_val", 1), ("image_size", 32)):
        if not isinstance(settings[option], int) or settings[option] < least:
            raise UsageError(f"demo option {option} must be an integer >= {least}, got {settings[option]!r}")
    info = DatasetInfo("demo", len(CLASS_NAMES), CLASS_NAMES, PALETTE, IGNORE_LABEL, SPLITS)
    arrays = SplitArrays([], [], [])
    for part in _split_parts(split, info):
        for index in range(settings[f"num_{part}"]):
            image, mask = demo_example(settings["seed"], part, index, settings["image_size"])
            arrays.images.append(image)
            arrays.masks.append(mask[..., 0])
            arrays.file_names.append(f"demo_{part}_{index:05d}.png")
    return arrays, info
