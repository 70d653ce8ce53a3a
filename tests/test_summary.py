import subprocess
import sys
from pathlib import Path

import pytest

from keras_deconvnet import UsageError, build_model
from keras_deconvnet.cli import parse_size
from keras_deconvnet.summary import format_stage_table, stage_rows

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_stage_rows_sum_to_the_total_and_name_every_stage():
    model = build_model("paper", num_classes=4, input_shape=(64, 64, 3))
    rows = stage_rows(model)
    assert [name for name, _, _ in rows][:2] == ["conv1", "conv2"]
    assert rows[-1] == ("mask", (64, 64, 4), 0)
    assert sum(params for _, _, params in rows) == model.count_params()
    assert f"**{model.count_params():,}**" in format_stage_table(model)


def test_summarize_script_prints_the_table_and_rejects_bad_sizes():
    done = subprocess.run(
        [sys.executable, SCRIPTS / "summarize.py", "--model", "paper", "--input-size", "64x96"],
        capture_output=True, text=True, check=True,
    )
    assert "| deconv1 | (32, 48, 21) |" in done.stdout
    failed = subprocess.run(
        [sys.executable, SCRIPTS / "summarize.py", "--model", "paper", "--input-size", "100"],
        capture_output=True, text=True,
    )
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1].startswith("error: input_shape (100, 100, 3)")
    assert "Traceback" not in failed.stderr


def test_parse_size():
    assert parse_size("352x480") == (352, 480)
    assert parse_size("96") == (96, 96)
    with pytest.raises(UsageError, match="HEIGHTxWIDTH"):
        parse_size("big")
