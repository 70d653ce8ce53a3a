"""Output folders, checked before a command starts its work rather than when it first writes."""

import os
from pathlib import Path

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
