"""curves.png from a tiny history.csv: every panel, older histories, one-line errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_deconvnet import UsageError
from keras_deconvnet.training.curves import draw_curves, plot_curves, read_history

HEADER = "epoch,loss,mean_iou,val_loss,val_mean_iou,learning_rate,epoch_seconds\n"
ROWS = "0,2.0,0.1,1.8,0.15,0.001,30.5\n1,1.5,0.2,1.6,0.2,0.0005,29.0\n2,1.2,0.3,,0.25,0.0001,28.7\n"


def test_curves_are_drawn_from_a_tiny_history(tmp_path):
    (tmp_path / "history.csv").write_text(HEADER + ROWS)
    path = plot_curves(tmp_path)
    assert path == tmp_path / "curves.png"
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape == (700, 1000, 3)
    # Lines are drawn in matplotlib's first two colours (blue and orange), not only axes.
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert np.any(np.abs(image - colour).sum(axis=-1) < 30), colour
    assert not list(tmp_path.glob(".*partial*"))
    history = read_history(tmp_path / "history.csv")
    assert history["learning_rate"] == [0.001, 0.0005, 0.0001]
    assert np.isnan(history["val_loss"][2])  # an empty cell


def test_a_history_without_learning_rate_or_epochs_still_draws(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,2.0,1.9\n1,1.0,1.2\n")
    assert plot_curves(tmp_path).is_file()
    (tmp_path / "history.csv").write_text("loss,val_loss\n2.0,1.9\n1.0,1.2\n")
    assert plot_curves(tmp_path).is_file()


def test_a_one_epoch_history_draws_its_points():
    history = {"epoch": [0.0], "loss": [1.0], "val_loss": [1.1], "learning_rate": [1e-3]}
    lines = [line for axis in draw_curves(history, "one epoch").axes for line in axis.get_lines()]
    assert len(lines) == 3 and all(line.get_marker() == "o" for line in lines)
    lines = [line for axis in draw_curves({"loss": [1.0, 0.5]}, "two").axes for line in axis.get_lines()]
    assert [line.get_marker() for line in lines] == ["None"]


def test_losses_are_on_a_log_scale_unless_one_is_not_positive():
    import matplotlib.pyplot as plt

    spike = {"loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 67.0, 1.3], "mean_iou": [0.1, 0.2, 0.3]}
    figure = draw_curves(spike, "run")
    assert figure.axes[0].get_yscale() == "log" and figure.axes[1].get_yscale() == "linear"
    plt.close(figure)
    figure = draw_curves({**spike, "loss": [0.5, 0.0, -0.1]}, "run")  # a loss that can reach 0
    assert figure.axes[0].get_yscale() == "linear"
    plt.close(figure)


def test_a_missing_or_empty_history_is_one_line_error(tmp_path):
    with pytest.raises(UsageError, match="no history.csv"):
        plot_curves(tmp_path)
    (tmp_path / "history.csv").write_text(HEADER)
    with pytest.raises(UsageError, match="no epochs yet"):
        plot_curves(tmp_path)
    (tmp_path / "history.csv").write_text("")  # CSVLogger opens it before the first epoch ends
    with pytest.raises(UsageError, match="no epochs yet"):
        plot_curves(tmp_path)
    with pytest.raises(UsageError, match=r"no history.csv at \S*none/history.csv:"):
        plot_curves(tmp_path / "none" / "history.csv")


def test_plot_curves_script_redraws_a_run_folder(tmp_path):
    (tmp_path / "history.csv").write_text(HEADER + ROWS)
    script = Path(__file__).resolve().parents[1] / "scripts" / "plot_curves.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curves.png").is_file()
    missing = subprocess.run([sys.executable, str(script), str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no history.csv" in missing.stderr


def test_a_history_file_is_accepted_and_a_foreign_file_is_one_line_error(tmp_path):
    (tmp_path / "history.csv").write_text(HEADER + ROWS)
    assert plot_curves(tmp_path / "history.csv") == tmp_path / "curves.png"
    (tmp_path / "other.csv").write_text("name,size\na,1\n")
    with pytest.raises(UsageError, match="none of the columns drawn"):
        plot_curves(tmp_path / "other.csv")
    (tmp_path / "config.json").write_text('{"model": "lean"}\n')  # one line: a header, no rows
    with pytest.raises(UsageError, match="none of the columns drawn"):
        plot_curves(tmp_path / "config.json")
    (tmp_path / "last.keras").write_bytes(b"PK\x03\x04\xff\xfe\x00\x81binary")
    with pytest.raises(UsageError, match="not a CSV file"):
        plot_curves(tmp_path / "last.keras")


def test_short_runs_get_whole_epoch_ticks_and_the_log_axis_plain_numbers():
    import matplotlib.pyplot as plt

    history = {"epoch": [0.0, 1.0, 2.0, 3.0], "loss": [2.0, 1.95, 1.9, 1.85], "val_loss": [2.1, 2.0, 1.97, 1.96]}
    figure = draw_curves(history, "four epochs")
    figure.canvas.draw()
    loss = figure.axes[0]
    ticks = [tick for tick in loss.get_xticks() if loss.get_xlim()[0] <= tick <= loss.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    labels = [label.get_text() for label in (*loss.get_yticklabels(), *loss.get_yticklabels(minor=True))]
    assert any(labels) and not any("times" in label or "^" in label for label in labels)
    plt.close(figure)
