"""`folder`: your own data, a folder of images and a folder of label PNGs with the same names.

    my_data/
      images/   a.jpg b.png ...     RGB images (.png, .jpg, .jpeg)
      masks/    a.png b.png ...     single-channel PNGs of class indices, one per image
      train.txt val.txt test.txt    optional: one file stem ("a") per line

Each list file that exists is a split; with none, every image is in `train`. Label values are
0 .. num_classes - 1, or the ignore label (default 255). Names, label formats and label values
are checked, and a mistake names the file and the fix.
"""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import tensorflow_datasets as tfds

from keras_deconvnet.datasets.base import (
    DatasetInfo,
    SourceBuilder,
    SourceConfig,
    config_name,
    file_stamps,
    read_list,
)
from keras_deconvnet.datasets.masks import checked_mask, read_index_png
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LIST_SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class FolderConfig(SourceConfig):
    """A folder's layout and label conventions."""

    num_classes: int = 0
    ignore_label: int = 255
    images_subdir: str = "images"
    masks_subdir: str = "masks"


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in suffixes:
            if path.stem in files:
                raise UsageError(f"{files[path.stem]} and {path} share a name: keep one")
            files[path.stem] = path
    return files


def folder_pairs(
    root: Path, images_subdir: str, masks_subdir: str
) -> dict[str, list[tuple[Path, Path]]]:
    """Pairs each image with its label, per split.

    Args:
        root: the dataset folder.
        images_subdir: its subfolder of images.
        masks_subdir: its subfolder of label PNGs.

    Returns:
        {split: [(image path, label path), ...]}, in list order (or name order for `train`
        when there is no list file).

    Raises:
        UsageError: a folder is missing, an image has no label or a label no image, or a list
            file names an image that does not exist.
    """
    images_dir, masks_dir = root / images_subdir, root / masks_subdir
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise UsageError(
                f"no folder {folder}: the folder dataset needs {images_subdir}/ (images) and "
                f"{masks_subdir}/ (label PNGs with the same names) in {root}"
            )
    images = _by_stem(images_dir, IMAGE_SUFFIXES)
    masks = _by_stem(masks_dir, (".png",))
    if not images:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}")
    for stem, image in images.items():
        if stem not in masks:
            raise UsageError(
                f"image {image} has no label {masks_dir / stem}.png: add it or remove the image"
            )
    for stem, mask in masks.items():
        if stem not in images:
            raise UsageError(
                f"label {mask} has no image {images_dir / stem}.*: add it or remove the label"
            )
    stems = {split: _listed(root / f"{split}.txt", images) for split in LIST_SPLITS}
    stems = {split: listed for split, listed in stems.items() if listed is not None}
    if not stems:
        stems = {"train": list(images)}
    return {split: [(images[s], masks[s]) for s in listed] for split, listed in stems.items()}


def _listed(list_file: Path, images: dict[str, Path]) -> list[str] | None:
    if not list_file.is_file():
        return None
    stems = [fields[0] for fields in read_list(list_file)]
    for number, stem in enumerate(stems, start=1):
        if stem not in images:
            raise UsageError(
                f"{list_file} line {number}: no image named '{stem}' (lines are file stems, "
                "such as 'img_001' for images/img_001.jpg)"
            )
    return stems


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
        if not isinstance(num_classes, int) or not 2 <= num_classes <= 255:
            raise UsageError(
                "the folder dataset needs num_classes from 2 to 255 (--num-classes), "
                f"got {num_classes}"
            )
        if not isinstance(ignore_label, int) or not num_classes <= ignore_label <= 255:
            raise UsageError(
                f"ignore_label must be from num_classes ({num_classes}) to 255, got {ignore_label}"
            )
        if not source.is_dir():
            raise UsageError(
                f"no such folder: {source} (the folder dataset reads images and labels there)"
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
