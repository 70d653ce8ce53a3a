"""What an exported file is and where its metadata lives: the names every format shares.

The SavedModel signatures' names, and the metadata JSON beside (or, for a SavedModel, inside)
each exported file. The writers and the runtimes (`runtimes.py`) of the exports share them.
"""

import json
from pathlib import Path

from keras_deconvnet.errors import UsageError

SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "serving_bytes"
SAVED_MODEL_METADATA = Path("assets.extra") / "keras_deconvnet.json"


def metadata_path(artifact: str | Path) -> Path:
    """Where the metadata JSON of an exported file or SavedModel version folder lives.

    `NAME_v1_int8.tflite` -> `NAME_v1_int8.json` beside it (`NAME_v1.onnx` -> `NAME_v1.onnx.json`,
    since `NAME_v1.json` is the `.keras` file's); a SavedModel version folder keeps it
    inside, in `assets.extra/` (TF Serving ignores that folder).
    """
    artifact = Path(artifact)
    if artifact.is_dir():
        return artifact / SAVED_MODEL_METADATA
    if artifact.suffix == ".onnx":
        return artifact.with_name(f"{artifact.name}.json")
    return artifact.with_suffix(".json")


def read_metadata(artifact: str | Path) -> dict:
    """The metadata JSON written by `keras_deconvnet.export` for `artifact`, or {} if none."""
    path = metadata_path(artifact)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the metadata {path}: {error}") from None
