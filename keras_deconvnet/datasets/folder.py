"""`folder`: the TFDS builder of your own folder of images and label PNGs; the layout it reads is
described in `keras_deconvnet.datasets.folder_layout`."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import tensorflow_datasets as tfds

from keras_deconvnet.datasets.base import SourceBuilder, SourceConfig, config_name, file_stamps
from keras_deconvnet.datasets.folder_layout import check_label_options, folder_pairs
from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.datasets.masks import checked_mask, read_index_png
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError


@dataclasses.dataclass
class FolderConfig(SourceConfig):
    """A folder's layout and label conventions."""

    num_classes: int = 0
    ignore_label: int = 255
    images_subdir: str = "images"
    masks_subdir: str = "masks"


class Folder(SourceBuilder):
    """Images and single-channel label PNGs from your own folder."""

    name = "folder"
    OPTIONS = ("num_classes", "ignore_label", "images_subdir", "masks_subdir")
    DESCRIPTION = "A user's folder of images and label PNGs of class indices."
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Pass the folder that holds images/ and masks/ as source_dir."

    def __init__(
        self,
        *,
        num_classes: int | None = None,
        ignore_label: int = 255,
        images_subdir: str = "images",
        masks_subdir: str = "masks",
        **kwargs,
    ):
        """Reads a folder of images and labels.

        Args:
            num_classes: classes in the labels, 2 to 255 (required unless `config` is given).
            ignore_label: the label value that marks pixels to ignore, >= num_classes.
            images_subdir: subfolder of images.
            masks_subdir: subfolder of label PNGs.
            **kwargs: `source_dir` (the folder), then TFDS's builder arguments.
        """
        self._options = {
            "num_classes": num_classes,
            "ignore_label": ignore_label,
            "images_subdir": images_subdir,
            "masks_subdir": masks_subdir,
        }
        super().__init__(**kwargs)

    def _make_config(self, source: Path, given: bool) -> FolderConfig:
        num_classes, ignore_label = self._options["num_classes"], self._options["ignore_label"]
        check_label_options(num_classes, ignore_label)
        if not source.is_dir():
            raise UsageError(
                f"no such folder: {source} (the folder dataset reads images and labels there)" if given else
                f"the folder dataset reads your images and labels: pass their folder with --data-dir (or put them in {source})"
            )
        pairs = folder_pairs(source, self._options["images_subdir"], self._options["masks_subdir"])
        listed = [(split, file_stamps(found)) for split, found in pairs.items()]
        return FolderConfig(
            name=config_name(source, sorted(self._options.items()), listed),
            source_dir=str(source),
            splits=tuple(pairs),
            **self._options,
        )

    def segmentation_info(self) -> DatasetInfo:
        num_classes = self.builder_config.num_classes
        return DatasetInfo(
            name=self.name,
            num_classes=num_classes,
            class_names=tuple(f"class_{index}" for index in range(num_classes)),
            palette=voc_palette()[:num_classes],
            ignore_label=self.builder_config.ignore_label,
            splits=self.builder_config.splits,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        pairs = folder_pairs(Path(config.source_dir), config.images_subdir, config.masks_subdir)
        return {split: self._generate_examples(pairs[split]) for split in config.splits}

    def _generate_examples(self, pairs: list[tuple[Path, Path]]) -> Iterator[tuple[str, dict]]:
        config = self.builder_config
        for image, label in pairs:
            indices = read_index_png(label)
            mask = checked_mask(indices, label, config.num_classes, config.ignore_label, image)
            yield image.name, {"image": image, "segmentation_mask": mask, "file_name": image.name}
