"""What a split holds: image count, image sizes, pixels per label value."""

import collections
import dataclasses

import numpy as np
import tensorflow as tf

from keras_deconvnet.datasets.info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class SplitStats:
    """Counts over one split.

    Attributes:
        images: number of examples.
        sizes: (height, width) -> number of images of that size.
        pixels: int64 (256,): pixels per mask value (classes, ignore label, anything else).
    """

    images: int
    sizes: collections.Counter
    pixels: np.ndarray


def split_stats(dataset: tf.data.Dataset) -> SplitStats:
    """Counts the images, their sizes and the mask values of a `load_split` dataset.

    Args:
        dataset: examples with "image" (H, W, 3) and "segmentation_mask" (H, W, 1) uint8.

    Returns:
        The counts.
    """
    sizes = collections.Counter()
    pixels = np.zeros(256, dtype=np.int64)
    for example in dataset.as_numpy_iterator():
        sizes[example["image"].shape[:2]] += 1
        pixels += np.bincount(example["segmentation_mask"].ravel(), minlength=256)
    return SplitStats(images=sum(sizes.values()), sizes=sizes, pixels=pixels)


def format_split_stats(stats: SplitStats, info: DatasetInfo, split: str) -> str:
    """A report: image count, sizes, and a markdown table of pixels per label.

    Args:
        stats: from `split_stats`.
        info: the dataset's classes and ignore label.
        split: the split's name, for the title.

    Returns:
        The text; the table has a row per class, one for the ignore label, and one for each
        other value found (which a valid dataset never has).
    """
    total = max(int(stats.pixels.sum()), 1)
    sizes = ", ".join(
        f"{height}x{width} ({count})" for (height, width), count in stats.sizes.most_common()
    )
    lines = [
        f"{info.name} {split}: {stats.images} images",
        f"image sizes (HxW): {sizes or 'none'}",
        "",
        "| label | class | pixels | % |",
        "|---:|---|---:|---:|",
    ]
    names = dict(enumerate(info.class_names))
    names[info.ignore_label] = "(ignore)"
    for value in sorted(set(names) | set(np.flatnonzero(stats.pixels).tolist())):
        count = int(stats.pixels[value])
        name = names.get(value, "(not a class)")
        lines.append(f"| {value} | {name} | {count:,} | {100 * count / total:.2f} |")
    return "\n".join(lines)
