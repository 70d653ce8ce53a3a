"""What the package needs to know about a dataset, and list-file helpers; no TensorFlow here,
so the NumPy data path (`keras_deconvnet.datasets.arrays`) runs without it."""

import dataclasses
from pathlib import Path

import numpy as np

from keras_deconvnet.errors import UsageError


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the pipeline, training and export need to know about a dataset.

    Attributes:
        name: the TFDS builder name ("voc2012_segmentation", "camvid", "folder", "demo").
        num_classes: classes the model predicts.
        class_names: one name per class.
        palette: uint8 (num_classes, 3) RGB colour of each class.
        ignore_label: the dataset's own ignore label in the stored masks (VOC 255, CamVid 11).
        splits: the splits this source offers.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: np.ndarray
    ignore_label: int
    splits: tuple[str, ...]

    def offered_splits(self) -> str:
        """The splits offered, for an unknown-split message, with how to join or add one."""
        text = f"it offers: {', '.join(self.splits)}"
        if len(self.splits) > 1:
            return f"{text} (join them with '+', e.g. {self.splits[0]}+{self.splits[1]})"
        if self.name == "folder":
            return (
                f"{text} (each list file of file stems beside images/, train.txt, val.txt or test.txt, "
                "makes a split; with none, every image is in train)"
            )
        return text


def require_files(pairs: list[tuple[Path, Path]], problem: str) -> list[tuple[Path, Path]]:
    """Returns `pairs` if every image and label exists; otherwise raises a UsageError
    `"<path> <problem>"`, where `problem` says what is wrong and how to fix it."""
    for pair in pairs:
        for path in pair:
            if not path.is_file():
                raise UsageError(f"{path} {problem}")
    return pairs


def read_list(path: Path) -> list[list[str]]:
    """The non-empty lines of a list file, split on whitespace."""
    return [line.split() for line in path.read_text().splitlines() if line.strip()]
