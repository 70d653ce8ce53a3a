"""`load_split`, the one loader of the datasets, with the helpers the pipelines and commands need
(the datasets' info and file names, their cache folder, the options a folder dataset takes).
TensorFlow and TFDS are imported when a split is loaded, not before."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.errors import UsageError

if TYPE_CHECKING:
    import tensorflow as tf

    from keras_deconvnet.datasets.base import SegmentationBuilder

DATASET_NAMES: tuple[str, ...] = ("voc2012_segmentation", "camvid", "folder", "demo")
CACHE_ENV = "KERAS_DECONVNET_TFDS_DIR"


def label_options(name: str, num_classes: int | None, ignore_label: int) -> dict:
    """The `load_split` options a dataset needs from the user: a folder's classes and ignore
    label (the other datasets know theirs, so they get none)."""
    return {"num_classes": num_classes, "ignore_label": ignore_label} if name == "folder" else {}


def split_names(split: str) -> list[str]:
    """The splits a TFDS split expression reads: "train+val[:50%]" -> ["train", "val"].

    Raises:
        UsageError: an empty part, such as in "train+".
    """
    names = [part.split("[", 1)[0].strip() for part in split.split("+")]
    if not all(names):
        raise UsageError(
            f"split '{split}' has an empty part; join split names with '+', e.g. train+val"
        )
    return names


def cache_dir() -> Path:
    """Where prepared datasets go: `$KERAS_DECONVNET_TFDS_DIR`, else `~/tensorflow_datasets`."""
    return Path(os.environ.get(CACHE_ENV) or "~/tensorflow_datasets").expanduser()


def _builder(name: str, data_dir: str | os.PathLike | None, options: dict) -> "SegmentationBuilder":
    if name not in DATASET_NAMES:
        raise UsageError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASET_NAMES)}")
    import tensorflow_datasets as tfds

    from keras_deconvnet.datasets import camvid, demo, folder, voc  # noqa: F401 (registers them)

    builder_cls = tfds.builder_cls(name)
    unknown = sorted(set(options) - set(builder_cls.OPTIONS))
    if unknown:
        offered = ", ".join(builder_cls.OPTIONS) or "none"
        raise UsageError(
            f"dataset {name} takes no option {', '.join(unknown)} (options: {offered})"
        )
    # The class itself, not `tfds.builder`, which prefixes our one-line errors with its arguments.
    if name == "demo":
        if data_dir is not None:
            raise UsageError("the demo dataset is generated in code: give it no data dir")
        return builder_cls(data_dir=cache_dir(), **options)
    return builder_cls(data_dir=cache_dir(), source_dir=data_dir, **options)


def dataset_info(name: str, data_dir: str | os.PathLike | None = None, **options) -> DatasetInfo:
    """Describes a dataset source without preparing it.

    Args:
        name: one of `DATASET_NAMES`.
        data_dir: the source folder (see `load_split`).
        **options: the dataset's options (see `load_split`).

    Returns:
        Its classes, palette, ignore label and the splits the source offers.

    Raises:
        UsageError: an unknown name or option, or missing data.
    """
    return _builder(name, data_dir, options).segmentation_info()


def _undecoded_images() -> dict:
    """TFDS decoders that leave the image and the mask as their encoded bytes."""
    import tensorflow_datasets as tfds

    skip = tfds.decode.SkipDecoding()
    return {"image": skip, "segmentation_mask": skip}


def load_split(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    *,
    shuffle_files: bool = False,
    decode: bool = True,
    **options,
) -> tuple["tf.data.Dataset", DatasetInfo]:
    """Prepares (once, cached) and returns a split as a `tf.data.Dataset` of feature dicts.

    Args:
        name: one of `DATASET_NAMES`.
        split: e.g. "train", "val", "train_aug" (VOC with SBD), "test" (CamVid, if present),
            "heldout_train"/"heldout_val" (CamVid, a sequence held out), or TFDS's split
            arithmetic over them: "train+val", "train[:80%]".
        data_dir: the source folder: VOC/SBD archives or extracted folders, the CamVid
            SegNet folder, or your folder; None for demo (and, for the others, TFDS's manual
            folder `<cache>/downloads/manual`, from which VOC downloads if it is empty).
        shuffle_files: shuffle the order of the TFRecord files (not of the examples).
        decode: decode "image" and "segmentation_mask"; False leaves them as their encoded
            bytes (a string tensor each), which the pipelines decode where an element is
            used, so elements that a pipeline skips or shuffles past cost no decoding.
        **options: for "folder": num_classes (required), ignore_label (255),
            images_subdir ("images"), masks_subdir ("masks"); for "demo": seed (0),
            num_train (400), num_val (100), image_size (128).

    Returns:
        (dataset, info): examples `{"image": uint8 (H, W, 3), "segmentation_mask": uint8
        (H, W, 1), "file_name": string}`, and the dataset's `DatasetInfo`.

    Raises:
        UsageError: an unknown name or option, a split the source does not offer, or missing
            or malformed data; the message is one line that names the fix.

    Example:
        >>> train, info = load_split("camvid", "train", "/data/CamVid")
        >>> info.num_classes, info.ignore_label
        (11, 11)
    """
    import tensorflow_datasets as tfds

    split = split.strip()
    builder = _builder(name, data_dir, options)
    info = builder.segmentation_info()
    missing = [part for part in split_names(split) if part not in info.splits]
    if missing:
        source = (
            builder.builder_config.name if name == "demo" else builder.builder_config.source_dir
        )
        raise UsageError(
            f"{name} in {source} has no split '{missing[0]}'; {info.offered_splits()}"
        )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    try:
        decoders = None if decode else _undecoded_images()
        dataset = builder.as_dataset(split=split, shuffle_files=shuffle_files, decoders=decoders)
    except (ValueError, AssertionError) as error:  # TFDS's words for a malformed slice
        raise UsageError(f"split '{split}' is not a TFDS split expression: {error}") from error
    return dataset, info


def file_names(
    name: str, split: str, data_dir: str | os.PathLike | None = None, **options
) -> set[str]:
    """The file names of a split that `load_split` has prepared, read without decoding images.

    Args:
        name, split, data_dir, **options: as for `load_split`.

    Returns:
        The "file_name" of every example.
    """
    dataset = _builder(name, data_dir, options).as_dataset(split=split.strip(), decoders=_undecoded_images())
    return {file_name.decode() for file_name in dataset.map(lambda f: f["file_name"]).as_numpy_iterator()}
