"""Training curves like the paper's Figs. 2 and 3, drawn from a run's history.csv.

Four panels against epochs: train and val loss, train and val mean IoU, the learning rate,
and the seconds each epoch took. A column a run did not log (an older run has no learning
rate) leaves its panel empty rather than failing. Losses are drawn on a log scale, so that
one early spike of the val loss (tens, against a loss near 1) does not flatten the rest.
"""

import csv
import math
import os
from pathlib import Path

from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.run_folder import RunFolder

_PANELS = (
    ("loss", (("loss", "train"), ("val_loss", "val"))),
    ("mean IoU", (("mean_iou", "train"), ("val_mean_iou", "val"))),
    ("learning rate", (("learning_rate", None),)),
    ("seconds per epoch", (("epoch_seconds", None),)),
)


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """The columns of a Keras CSVLogger file, as floats (NaN where a cell is empty).

    Raises:
        UsageError: the file is missing, has no rows, or has none of the columns drawn.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no history.csv at {path}: pass a training run folder")
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            columns, rows = reader.fieldnames or [], list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{path} is not a CSV file ({error}): pass a training run folder") from None
    drawn = [column for _, series in _PANELS for column, _ in series]
    if columns and not set(drawn) & set(columns):  # an empty file is a run in its first epoch
        raise UsageError(
            f"{path} has none of the columns drawn ({', '.join(drawn)}): "
            "pass a folder written by scripts/train.py"
        )
    if not rows:
        raise UsageError(f"{path} has no epochs yet")

    def number(text: str | None) -> float:
        try:
            return float(text)
        except (TypeError, ValueError):
            return math.nan

    return {column: [number(row.get(column)) for row in rows] for column in rows[0]}


def _pyplot():
    """matplotlib's pyplot on the Agg backend: files only, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(run_dir: str | os.PathLike) -> Path:
    """Draws a run's history into curves.png beside it (written whole, then renamed).

    Args:
        run_dir: a training run folder (its history.csv is drawn), or a history file itself.

    Returns:
        The path of curves.png.
    """
    plt = _pyplot()
    history_path = Path(run_dir)
    if not (history_path.is_file() or history_path.suffix == ".csv"):  # a run folder
        history_path = RunFolder(history_path).history
    run_dir = history_path.parent
    figure = draw_curves(read_history(history_path), run_dir.name)
    path = RunFolder(run_dir).curves
    partial = path.with_name(f".{path.stem}.partial.png")
    figure.savefig(partial, dpi=100)
    plt.close(figure)
    os.replace(partial, path)
    return path


def draw_curves(history: dict[str, list[float]], title: str):
    """The four panels of `history` (as `read_history` gives it) in a matplotlib figure."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    numbers = history.get("epoch", [])
    rows = len(next(iter(history.values())))
    if len(numbers) == rows and all(math.isfinite(n) for n in numbers):
        epochs = [int(n) + 1 for n in numbers]
    else:  # no usable epoch column: number the rows
        epochs = list(range(1, rows + 1))
    marker = "o" if rows == 1 else None  # a line of one point draws nothing
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for axis, (panel, series) in zip(axes.flat, _PANELS):
        values = []
        for column, label in series:
            if column in history:
                axis.plot(epochs, history[column], label=label, marker=marker)
                values += [value for value in history[column] if math.isfinite(value)]
        axis.set_title(panel)
        axis.grid(alpha=0.3)
        if panel == "loss" and values and min(values) > 0:
            axis.set_yscale("log")
            # plain numbers (1.95, not 1.95x10^0); within one decade only minor ticks fall
            # inside, so they are labelled too
            axis.yaxis.set_major_formatter(ScalarFormatter())
            if max(values) < 10 * min(values):
                axis.yaxis.set_minor_formatter(ScalarFormatter())
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if any(label for column, label in series if column in history):
            axis.legend()
    for axis in axes[1]:
        axis.set_xlabel("epoch")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
