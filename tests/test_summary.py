import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from keras_deconvnet import UsageError, build_model
from keras_deconvnet.commands.cli import parse_scales, parse_size, size_flag
from keras_deconvnet.models.summary import format_stage_table, stage_rows

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_stage_rows_sum_to_the_total_and_name_every_stage():
    model = build_model("paper", num_classes=4, input_shape=(64, 64, 3))
    rows = stage_rows(model)
    assert [name for name, _, _ in rows][:2] == ["conv1", "conv2"]
    assert rows[-1] == ("mask", (64, 64, 4), 0)
    assert sum(params for _, _, params in rows) == model.count_params()
    assert f"**{model.count_params():,}**" in format_stage_table(model)


@pytest.mark.slow
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
    assert failed.stderr.strip().splitlines()[-1] == (
        "summarize.py: error: argument --input-size: a size must be HEIGHTxWIDTH in multiples of 32, "
        "such as 352x480 or 96, got '100'"
    )
    assert "Traceback" not in failed.stderr


def test_parse_size():
    assert parse_size("352x480") == (352, 480)
    assert parse_size("96") == (96, 96)
    for text in ("big", "100x100", "0", "-32x64", "32x64x96"):
        with pytest.raises(UsageError, match="HEIGHTxWIDTH in multiples of 32"):
            parse_size(text)


def test_a_size_or_scales_flag_says_what_it_expects(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--input-size", type=size_flag)
    parser.add_argument("--tta-scales", type=parse_scales)
    assert parser.parse_args(["--input-size", "64x96"]).input_size == (64, 96)
    assert parser.parse_args(["--tta-scales", "0.5,1"]).tta_scales == (0.5, 1.0)
    for flag, value, expected in (
        ("--input-size", "abc", "HEIGHTxWIDTH in multiples of 32"),
        ("--tta-scales", "-1", "positive multiples of the model's input size, at most 4"),
        ("--tta-scales", "1,,2", "positive multiples"),
        ("--tta-scales", "75,100", "at most 4"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args([flag, value])
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"tool: error: argument {flag}: ") and expected in error, error


def test_predict_takes_an_overlay_opacity_from_0_to_1(capsys):
    from keras_deconvnet.commands import predict

    parser = predict.get_args_parser()
    required = ["photos", "--model", "m.keras", "--out", "masks"]
    assert parser.parse_args([*required, "--alpha", "1"]).alpha == 1.0
    for value in ("2", "-0.5", "half"):  # outside [0, 1] the overlay's pixels would wrap around
        with pytest.raises(SystemExit):
            parser.parse_args([*required, "--alpha", value])
        assert "argument --alpha: expected a number from 0 to 1" in capsys.readouterr().err


def test_evaluate_refuses_an_empty_batch_before_loading_anything(capsys):
    from keras_deconvnet.commands import evaluate

    with pytest.raises(SystemExit):
        evaluate.get_args_parser().parse_args(["--model", "m.keras", "--batch-size", "0"])
    assert "argument --batch-size: expected an integer of at least 1, got '0'" in capsys.readouterr().err


@pytest.mark.slow
def test_summarize_all_at_a_small_size_skips_only_vgg16(capsys):
    from keras_deconvnet.commands import summarize

    summarize.main(summarize.get_args_parser().parse_args(["--input-size", "64", "--num-classes", "3"]))
    out, err = capsys.readouterr()
    assert err.strip() == "skipped deconvnet_vgg16: it needs an input of at least 224x224"
    assert "lean_context: input (64, 64, 3)" in out and "deconvnet_vgg16" not in out
