"""Files read and written safely: output folders checked before a command starts its work rather
than when it first writes; strict JSON (a NaN or an infinity becomes null, so any JSON reader
parses metrics.json, best_epoch.json and scores.json, where a class absent from a validation
set has a NaN IoU); image files read as the 8-bit RGB every model takes, whatever their PIL
mode, and written whole."""

import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from keras_deconvnet.errors import UsageError


def check_output_dir(path: str | os.PathLike, flag: str) -> Path:
    """`path` as a folder that can be created or written into; nothing is created yet.

    Args:
        path: the folder a command will write to.
        flag: the flag that named it, for the message.

    Returns:
        `path` as a `Path`.

    Raises:
        UsageError: `path` or a folder above it is a file (or a broken link), or the nearest
            existing one is not writable.
    """
    path = Path(path)
    for existing in (path, *path.parents):
        if not existing.exists() and not existing.is_symlink():
            continue
        if not existing.is_dir():  # a file, or a link to nothing
            raise UsageError(f"{flag} {path}: {existing} is a file, not a folder; pass a folder path")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: cannot write in {existing}; pass a folder you can write to")
        break
    return path


def finite(value):
    """`value` with every non-finite float, in nested dicts, lists and tuples too, as None."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, value) -> None:
    """Writes `value` to `path` as indented strict JSON, non-finite floats as null.

    The text goes to a temporary name first and is then renamed, so a reader (or a run that
    resumes after a crash) sees the old file or the new one, never half of one.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(finite(value), indent=2, allow_nan=False) + "\n")
    os.replace(partial, path)


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
