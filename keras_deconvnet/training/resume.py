"""Where an interrupted run goes on from: its last good checkpoint and the epochs it finished.

Every epoch ends with its history.csv row and (if it is the best) `best.keras`, then
`BestAndLastCheckpoints` renames a complete `last.keras` (weights and optimizer state) into
place and writes `last_epoch.json` ({"epoch", "iterations"}). A crash between those two
leaves a `last.keras` one epoch ahead of the JSON; its optimizer step count says so. A run
killed before its first epoch ended has nothing to resume and starts again. A checkpoint
that cannot be read (a torn or deleted file) gives way to `best.keras` with one line saying
so. The data stream, early stopping and history.csv then continue from that epoch, so the
resumed run is the run it would have been.
"""

import csv
import dataclasses
import json
import os
import sys
from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models import load_model
from keras_deconvnet.training.run_folder import RunFolder


@dataclasses.dataclass
class ResumePoint:
    """The checkpoint a run continues from, loaded with its optimizer, and the epochs it holds."""

    checkpoint: keras.Model | None  # None once its state is copied into the run's model
    epochs_done: int


def _iterations(model: keras.Model) -> int:
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def _history(run_dir: Path) -> tuple[list[str] | None, list[dict]]:
    """history.csv's field names (None: no file, or no epoch ended) and rows."""
    history = RunFolder(run_dir).history
    if not history.is_file():
        return None, []
    with open(history, newline="") as handle:  # empty when killed before its first row
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def _epochs_in(run_dir: Path, path: Path, model: keras.Model) -> int:
    """The epochs `model` (loaded from `path`) has trained, from the file written beside it."""
    folder = RunFolder(run_dir)
    if path == folder.best_model:
        best_file = folder.best_epoch
        return int(json.loads(best_file.read_text())["epoch"]) if best_file.is_file() else 0
    try:
        state = json.loads(folder.last_epoch.read_text())
        epoch, iterations = int(state["epoch"]), int(state["iterations"])
    except (OSError, ValueError, KeyError, TypeError):
        # None yet (killed after the first rename) or from older code: history.csv has a
        # row for every epoch last.keras holds, since it is written first.
        return len(_history(run_dir)[1])
    ahead = _iterations(model) != iterations  # renamed, then the crash came
    return epoch + int(ahead)


def resume_point(run_dir: Path) -> ResumePoint | None:
    """The newest readable checkpoint of `run_dir` and the epochs finished with it; None if
    the run stopped before its first epoch ended (nothing saved: it starts again).

    Raises:
        UsageError: `last.keras` and `best.keras` exist but neither can be read.
    """
    folder = RunFolder(run_dir)
    checkpoints = (folder.last_model, folder.best_model)
    if not any(path.exists() for path in checkpoints):
        return None
    failures = []
    for path in checkpoints:
        try:
            checkpoint = load_model(path, compile=True)
        except UsageError as error:
            failures.append(str(error))
            continue
        if checkpoint.optimizer is None:
            failures.append(f"{path} holds no optimizer state")
            continue
        if failures:
            print(f"warning: {failures[0]}; resuming from {path} instead", file=sys.stderr)
        return ResumePoint(checkpoint, _epochs_in(run_dir, path, checkpoint))
    raise UsageError(f"cannot resume {run_dir}: {'; '.join(failures)}; start a new run")


def restore_state(model: keras.Model, checkpoint: keras.Model) -> None:
    """Gives `model` (from `compile_for_training`) the weights and optimizer state of `checkpoint`."""
    model.set_weights(checkpoint.get_weights())
    source, target = checkpoint.optimizer.variables, model.optimizer.variables
    if [tuple(v.shape) for v in source] != [tuple(v.shape) for v in target]:
        raise UsageError("the checkpoint's optimizer state does not fit this run's optimizer; start a new run")
    for variable, value in zip(target, source, strict=True):
        variable.assign(value)


def earlier_seconds(run_dir: Path, epochs: int) -> float:
    """The seconds history.csv records for the first `epochs` epochs: what a resumed run's wall
    time adds to its own."""
    _, rows = _history(run_dir)
    return sum(float(row.get("epoch_seconds") or 0) for row in rows[:epochs])


def monitored_history(run_dir: Path, epochs: int, monitor: str, keep_rows: bool = True) -> list[float | None]:
    """`monitor` for each of the first `epochs` rows of history.csv; if `keep_rows`, the file
    then keeps only those rows (the epochs the checkpoint holds)."""
    fields, rows = _history(run_dir)
    if fields is None:  # no file, or created but no epoch ended
        return []
    rows = rows[:epochs]
    # "nan" counts as an epoch without improvement, as Keras' EarlyStopping counts it.
    values = [float(row[monitor]) if row.get(monitor) not in (None, "") else None for row in rows]
    if not keep_rows:
        return values
    partial = run_dir / ".history.csv.partial"
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, RunFolder(run_dir).history)
    return values
