"""Strict JSON files: a NaN or an infinity becomes null, so any JSON reader parses them.

Python's `json` writes bare `NaN`, which is not JSON; a class absent from a validation set
has a NaN IoU, and metrics.json, best_epoch.json and scores.json must stay readable.
"""

import json
import math
import os
from pathlib import Path


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
