"""The installed `keras-deconvnet` command: its subcommands are the scripts' parsers and mains,
`--help` imports no TensorFlow, and TensorFlow's start-up logs stay off the console."""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SCRIPTS

from keras_deconvnet.commands import COMMANDS, summary
from keras_deconvnet.commands.train import resume_command

HEAVY = ("tensorflow", "keras")
USER_SETTINGS = ("TF_CPP_MIN_LOG_LEVEL", "TQDM_DISABLE")  # which the quiet mode keeps when set


def entry_point() -> str:
    """The `keras-deconvnet` executable `pip install -e .` puts beside this Python."""
    path = shutil.which("keras-deconvnet", path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"no keras-deconvnet in {Path(sys.executable).parent}: run pip install -e . to install the command")
    return path


def run(*command, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `command` as a user would: without the TF_CPP_MIN_LOG_LEVEL that CI sets."""
    environment = {key: value for key, value in os.environ.items() if key not in USER_SETTINGS}
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, env={**environment, **(env or {})}
    )


def imported_modules(done: subprocess.CompletedProcess) -> set[str]:
    """The top-level modules a process run with PYTHONPROFILEIMPORTTIME=1 imported."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines[1:]}


def test_the_console_command_is_installed():
    assert os.access(entry_point(), os.X_OK)


@pytest.mark.parametrize("installed", [True, False], ids=["keras-deconvnet", "python -m keras_deconvnet"])
def test_help_lists_every_command_with_one_line(installed):
    done = run(*([entry_point()] if installed else [sys.executable, "-m", "keras_deconvnet"]), "--help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name in COMMANDS:
        assert any(line.split() == [name, *summary(name).split()] for line in lines), (name, done.stdout)


def assert_help_without_tensorflow(*command) -> str:
    """Runs `command --help`; checks that it succeeds importing neither TensorFlow nor Keras."""
    done = run(*command, "--help", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--verbose" in done.stdout
    assert not imported_modules(done) & set(HEAVY), command
    return done.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_of_every_command_imports_no_tensorflow(name):
    script = SCRIPTS / f"{COMMANDS[name]}.py"
    # Usage names the program as it was called.
    assert assert_help_without_tensorflow(sys.executable, script).startswith(f"usage: {script.name} ")
    module = assert_help_without_tensorflow(sys.executable, "-m", "keras_deconvnet", name)
    assert module.startswith(f"usage: python -m keras_deconvnet {name} ")


def test_help_of_the_installed_command_imports_no_tensorflow():
    assert assert_help_without_tensorflow(entry_point(), "train").startswith("usage: keras-deconvnet train ")


@pytest.mark.slow
def test_summarize_prints_what_the_script_prints_and_nothing_else():
    flags = ["--model", "lean", "--input-size", "64x64", "--num-classes", "3"]
    command = run(entry_point(), "summarize", *flags)
    script = run(sys.executable, SCRIPTS / "summarize.py", *flags)
    assert command.returncode == script.returncode == 0, command.stderr + script.stderr
    assert command.stdout == script.stdout and "| **total** | | **" in command.stdout
    # No CUDA probing, oneDNN notice or absl line on the console.
    assert command.stderr == script.stderr == ""


@pytest.mark.slow
def test_a_bad_flag_value_is_one_line_and_exit_2():
    done = run(entry_point(), "summarize", "--model", "lean", "--num-classes", "1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]  # TensorFlow was imported and said nothing
    assert done.stderr.startswith("error: num_classes must be an integer from 2")


def test_an_unknown_command_or_flag_is_a_usage_error():
    unknown = run(entry_point(), "fly")
    assert unknown.returncode == 2 and "invalid choice: 'fly'" in unknown.stderr
    assert run(entry_point()).returncode == 2
    bad_flag = run(entry_point(), "plot-curves", "--no-such-flag", "run")
    assert bad_flag.returncode == 2
    assert bad_flag.stderr.splitlines()[-1] == "keras-deconvnet plot-curves: error: unrecognized arguments: --no-such-flag"


def test_a_command_spelled_like_its_script_runs(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,2.0,1.9\n")
    done = run(sys.executable, "-m", "keras_deconvnet", "plot_curves", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curves.png").is_file()


QUIET_LEVEL = (
    "import os, sys; from keras_deconvnet.process import quiet_logs; "
    "quiet_logs('--verbose' in sys.argv); print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))"
)


@pytest.mark.parametrize(
    "user_level, flags, level", [(None, [], "3"), ("1", [], "1"), (None, ["--verbose"], "None"), ("0", ["--verbose"], "0")]
)
def test_quiet_logs_set_level_3_unless_the_user_set_one_or_asks_for_verbose(user_level, flags, level):
    env = {} if user_level is None else {"TF_CPP_MIN_LOG_LEVEL": user_level}
    done = run(sys.executable, "-c", QUIET_LEVEL, *flags, env=env)
    assert done.stdout.strip() == level, done.stderr


CONVERT_AND_RUN = (
    "import sys, numpy as np; from keras_deconvnet.process import quiet_logs; quiet_logs('--verbose' in sys.argv); "
    "from keras_deconvnet.models import build_model; from keras_deconvnet.export import convert_tflite; "
    "from keras_deconvnet.export.runtimes import litert_interpreter; "
    "model = build_model('lean_minimalistic', num_classes=3, input_shape=(32, 32, 3)); "
    "images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype('float32'); "
    "litert_interpreter(convert_tflite(model, ('int8',), images)['int8']); print('converted')"
)


@pytest.mark.slow
def test_the_converter_and_litert_notices_stay_hidden_unless_verbose():
    quiet = run(sys.executable, "-c", CONVERT_AND_RUN)
    assert quiet.stdout.strip() == "converted", quiet.stderr
    assert "fully_quantize" not in quiet.stderr and "XNNPACK delegate" not in quiet.stderr
    verbose = run(sys.executable, "-c", CONVERT_AND_RUN, "--verbose")
    assert "fully_quantize" in verbose.stderr and "XNNPACK delegate" in verbose.stderr


def test_ctrl_c_names_the_resume_command_the_way_training_was_started(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["keras-deconvnet train", "--resume"])
    assert resume_command() == "keras-deconvnet train"
    monkeypatch.setattr(sys, "argv", ["python -m keras_deconvnet train"])
    assert resume_command() == "python -m keras_deconvnet train"
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / "train.py")])
    assert resume_command() == "python scripts/train.py"


@pytest.mark.parametrize("interrupt, line", [(KeyboardInterrupt(), "stopped by Ctrl-C"), (KeyboardInterrupt("3 of 5 done"), "3 of 5 done")])
def test_ctrl_c_is_one_line_and_exit_130(interrupt, line, monkeypatch, capsys):
    from keras_deconvnet.commands import cli

    def main(args):
        raise interrupt

    monkeypatch.setattr(cli, "quiet_logs", lambda verbose: None)
    with pytest.raises(SystemExit) as stopped:
        cli.run(main, argparse.ArgumentParser(), [])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == f"interrupted: {line}\n"


def test_the_names_the_parsers_offer_are_the_librarys():
    from keras_deconvnet import constants, losses
    from keras_deconvnet.commands.train import get_args_parser
    from keras_deconvnet.data import mix_settings
    from keras_deconvnet.models.registry import MODEL_NAMES, model_builder

    parser = get_args_parser()
    for flag, names in (("--model", MODEL_NAMES), ("--loss", constants.LOSS_NAMES), ("--mix", mix_settings.MIX_MODES),
                        ("--wandb", constants.WANDB_MODES)):
        assert [getattr(parser.parse_args([flag, name]), flag[2:]) for name in names] == list(names)
    assert all(callable(model_builder(name)) for name in MODEL_NAMES)  # each name leads to its builder
    assert all(losses.build_loss(name) for name in constants.LOSS_NAMES)


def test_evaluate_keeps_a_default_folder_for_each_runs_checkpoint():
    from keras_deconvnet.commands.evaluate import default_out_dir, get_args_parser

    def folder(model: str, *flags: str) -> Path:
        args = get_args_parser().parse_args(["--model", model, "--dataset", "camvid", "--split", "val", *flags])
        return default_out_dir(args, "original", None)

    assert folder("runs/a/last.keras") != folder("runs/b/last.keras")
    assert folder("runs/a/last.keras").name == "a_last_camvid_val_original"
    assert folder("runs/a/last.keras", "--input-size", "352x480").name == "a_last_camvid_val_original_352x480"
