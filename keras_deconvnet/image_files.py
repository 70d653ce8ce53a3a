"""Image files: read as the 8-bit RGB every model takes, whatever their PIL mode; written whole."""

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from keras_deconvnet.errors import UsageError

# PIL's modes of 16-bit greyscale (PNG, TIFF): `convert("RGB")` clips them at 255, so an image
# whose values use the 16-bit range would turn white; they are scaled to 8 bits instead.
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_FLOAT_IMAGE = "a floating-point image (PIL mode F) has no known range; save it as an 8- or 16-bit PNG or a JPEG"


def rgb_pixels(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a PIL image: 16-bit greyscale scaled to 8 bits, palette, grey and
    alpha images converted by PIL.

    Raises:
        UsageError: a floating-point image (PIL mode "F"), whose range is unknown.
    """
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / 257
        return np.repeat(grey.round().astype(np.uint8)[..., None], 3, axis=-1)
    if image.mode == "F":
        raise UsageError(_FLOAT_IMAGE)
    return np.asarray(image.convert("RGB"))


def read_rgb(path: Path, *, exif_orientation: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (see `rgb_pixels`).

    Args:
        path: any image PIL reads.
        exif_orientation: turn the pixels as the file's EXIF orientation says (phone photos
            store their rotation there, the pixels as the sensor read them).

    Raises:
        UsageError: the file is not an image PIL can read, or a floating-point one; the message
            names the file.
    """
    try:
        with Image.open(path) as image:
            return rgb_pixels(ImageOps.exif_transpose(image) if exif_orientation else image)
    except (OSError, Image.DecompressionBombError) as error:
        raise UsageError(f"cannot read {path} as an image: {error}") from None
    except UsageError as error:
        raise UsageError(f"cannot read {path}: {error}") from None


def check_readable(path: Path) -> None:
    """Checks that `path` is an image file PIL can open, from its header and (PNG) checksums,
    without decoding it; so a folder's bad file is refused before any work starts.

    Raises:
        UsageError: naming the file.
    """
    try:
        with Image.open(path) as image:
            image.verify()
            mode = image.mode
    # verify raises SyntaxError for a broken PNG chunk; DecompressionBombError is no OSError.
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise UsageError(f"cannot read {path} as an image: {error}") from None
    if mode == "F":
        raise UsageError(f"cannot read {path}: {_FLOAT_IMAGE}")


def write_png(pixels: np.ndarray, path: Path) -> None:
    """Writes `pixels` as the PNG `path`, whole or not at all: to a hidden file beside it, then
    renamed over it, so an interrupted write leaves neither a half-written file nor a lost one."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        Image.fromarray(pixels).save(partial, format="PNG")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
