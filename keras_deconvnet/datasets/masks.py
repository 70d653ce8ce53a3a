"""Reading label masks as class indices, and rejecting the ones a model cannot learn from."""

from pathlib import Path

import numpy as np
from PIL import Image

from keras_deconvnet.errors import UsageError

# PIL modes whose pixels are the indices themselves: palette ("P", as VOC) and 8-bit grey.
_INDEX_MODES = ("P", "L")


def read_index_png(path: Path) -> np.ndarray:
    """Reads a label PNG's class indices (a palette PNG's indices, never its colours).

    Args:
        path: a single-channel PNG: palette ("P") or 8-bit greyscale ("L").

    Returns:
        uint8 array (H, W).

    Raises:
        UsageError: the file is unreadable or holds colours (RGB) rather than indices.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in _INDEX_MODES:
                raise UsageError(
                    f"label {path} has PIL mode {image.mode}: labels must be single-channel PNGs "
                    "of class indices (palette or greyscale), so convert colour masks to indices"
                )
            return np.array(image, dtype=np.uint8)
    except OSError as error:
        raise UsageError(f"cannot read label {path}: {error}") from None


def image_size(path: Path) -> tuple[int, int]:
    """Reads an image's (height, width), decoding it whole: a truncated or corrupt file is then
    refused while a dataset is prepared, naming the file, not mid-training in TensorFlow's decoder.

    Raises:
        UsageError: the file is not an image PIL can read to its end.
    """
    try:
        with Image.open(path) as image:
            image.load()
            width, height = image.size
    except OSError as error:
        raise UsageError(f"cannot read image {path}: {error}") from None
    return height, width


def checked_mask(
    mask: np.ndarray, source: Path, num_classes: int, ignore_label: int, image: Path
) -> np.ndarray:
    """Checks a mask's values and size; returns it as the stored (H, W, 1) uint8.

    Args:
        mask: (H, W) integer class indices.
        source: the label file, named in errors.
        num_classes: valid classes are 0 .. num_classes - 1.
        ignore_label: the one other value allowed.
        image: the matching image, whose size the mask must have.

    Returns:
        uint8 array (H, W, 1).

    Raises:
        UsageError: a value is neither a class nor the ignore label, or the sizes differ.
    """
    values = np.unique(mask)
    bad = values[(values < 0) | ((values >= num_classes) & (values != ignore_label))]
    if bad.size:
        raise UsageError(
            f"label {source} has value {int(bad[0])}, which is neither a class "
            f"(0..{num_classes - 1}) nor the ignore label {ignore_label}: fix the label, "
            "or the number of classes / ignore label"
        )
    height, width = image_size(image)
    if mask.shape != (height, width):
        raise UsageError(
            f"label {source} is {mask.shape[0]}x{mask.shape[1]} but image {image} is "
            f"{height}x{width}: a label must have its image's size"
        )
    return mask.astype(np.uint8)[..., np.newaxis]
