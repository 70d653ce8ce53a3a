import csv
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import load_script
from keras_deconvnet import UsageError
from keras_deconvnet.commands.cli import run
from keras_deconvnet.training import PRESETS, TrainConfig, prepare_recipe_run, read_recipe, run_recipe
from keras_deconvnet.training.recipe_files import bundled_recipes
from keras_deconvnet.training.recipes import check_recipe

TWO_STAGES = """\
description = "two stages on a small demo set"

[settings]
model = "lean"
dataset = "demo"
dataset_options = {num_train = 8, num_val = 4, image_size = 32}
input_size = [32, 32]
batch_size = 4
wandb = "disabled"

[[stages]]
name = "first"
epochs = 2

[[stages]]
name = "second"
epochs = 2
lr = 5e-4
"""


def write_recipe(folder: Path, text: str = TWO_STAGES, name: str = "two.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("recipe")
    run_dir = folder / "run"
    return run_dir, run_recipe(read_recipe(write_recipe(folder)), str(run_dir))


@pytest.mark.slow
def test_each_stage_starts_from_the_last_epoch_of_the_one_before(recipe_run):
    run_dir, metrics = recipe_run
    first, second = (json.loads((run_dir / name / "config.json").read_text()) for name in ("1-first", "2-second"))
    assert first["init_weights"] is None
    assert second["init_weights"] == str(run_dir / "1-first" / "last.keras")
    assert (second["stage"], second["lr"], second["epochs"]) == ("second", 5e-4, 2)
    assert second["recipe"].endswith("two.toml") and first["model"] == second["model"] == "lean"
    assert [row["epoch"] for row in history(run_dir / "2-second")] == ["0", "1"]


@pytest.mark.slow
def test_a_finished_recipe_run_reads_as_one_run(recipe_run):
    run_dir, metrics = recipe_run
    assert list(metrics["stages"]) == ["first", "second"] and metrics["epochs_run"] == 4
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert (run_dir / "recipe.toml").read_text() == TWO_STAGES
    assert (run_dir / "last.keras").read_bytes() == (run_dir / "2-second" / "last.keras").read_bytes()
    assert json.loads((run_dir / "config.json").read_text())["stage"] == "second"
    with pytest.raises(UsageError, match="has finished"):
        prepare_recipe_run(None, str(run_dir), {}, resume=True)
    with pytest.raises(UsageError, match="is not empty; pass --resume"):
        prepare_recipe_run(str(run_dir / "recipe.toml"), str(run_dir), {}, resume=False)


@pytest.mark.slow
def test_a_recipe_run_killed_in_its_second_stage_resumes_there(tmp_path, monkeypatch):
    original = keras.callbacks.CSVLogger.on_epoch_end

    def crash_in_second_stage(self, epoch, logs=None):
        original(self, epoch, logs)
        if "2-second" in self.filename and epoch == 0:
            raise RuntimeError("simulated kill")

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", crash_in_second_stage)
    run_dir = tmp_path / "run"
    recipe = read_recipe(write_recipe(tmp_path))
    with pytest.raises(RuntimeError, match="simulated kill"):
        run_recipe(recipe, str(run_dir), {"seed": 3})
    first_metrics = (run_dir / "1-first" / "metrics.json").read_bytes()
    assert not (run_dir / "2-second" / "metrics.json").exists()
    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", original)

    resumed, overrides = prepare_recipe_run(None, str(run_dir), {}, resume=True)
    assert resumed.text == TWO_STAGES and overrides == {"seed": 3}  # the flags it was started with
    metrics = run_recipe(resumed, str(run_dir), overrides, resume=True)
    assert (run_dir / "1-first" / "metrics.json").read_bytes() == first_metrics  # not trained again
    assert [row["epoch"] for row in history(run_dir / "2-second")] == ["0", "1"]
    assert metrics["epochs_run"] == 4
    assert json.loads((run_dir / "2-second" / "config.json").read_text())["seed"] == 3


@pytest.mark.slow
def test_resume_refuses_another_recipe_and_a_folder_without_one(recipe_run, tmp_path):
    run_dir, _ = recipe_run
    (run_dir / "metrics.json").rename(run_dir / "metrics.moved")
    try:
        other = write_recipe(tmp_path, TWO_STAGES.replace("epochs = 2\nlr", "epochs = 3\nlr"))
        with pytest.raises(UsageError, match="differs from the recipe the run in .* follows"):
            prepare_recipe_run(str(other), str(run_dir), {}, resume=True)
    finally:
        (run_dir / "metrics.moved").rename(run_dir / "metrics.json")
    with pytest.raises(UsageError, match="holds no recipe run"):
        prepare_recipe_run(None, str(tmp_path / "empty"), {}, resume=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (("epochs = 2\nlr", "epoch = 2\nlr"), r"stage 'second': unknown key 'epoch'; a setting is one of: model, "),
        (("epochs = 2\nlr", 'epochs = "two"\nlr'), r"stage 'second': epochs must be an integer, got 'two'"),
        (("epochs = 2\nlr", "epochs = 0\nlr"), r"stage 'second': epochs must be at least 1, got 0"),
        (("lr = 5e-4", 'lr = 5e-4\nloss = "dice"'), r"stage 'second': loss must be one of cross-entropy, .*, got 'dice'"),
        (("lr = 5e-4", "lr = 5e-4\ninput_size = [60, 64]"), r"stage 'second': input_size must be HEIGHTxWIDTH"),
        (("lr = 5e-4", "lr = 5e-4\ninput_size = 64"), r"stage 'second': input_size must be an array of two integers, got 64"),
        (("lr = 5e-4", 'lr = 5e-4\nclass_weights = "median"'), r"stage 'second': class_weights must be one of none, "),
        (("lr = 5e-4", 'lr = 5e-4\nmodel = "paper"'), r"stage 'second': model belongs in \[settings\]"),
        (("lr = 5e-4", 'lr = 5e-4\noutput_dir = "x"'), r"stage 'second': unknown key 'output_dir'"),
        (("batch_size = 4", "batch_size = 4.5"), r"stage 'first': batch_size must be an integer, got 4.5"),
        (('name = "second"', 'name = "first"'), r"two stages are named 'first'"),
        (('name = "second"', 'name = "a b"'), r"stage 2 needs a name of letters"),
        (("[settings]", "[setting]"), r"unknown key 'setting' at the top"),
        (("lr = 5e-4", "lr = 5e-4 ="), r"not valid TOML"),
    ],
)
def test_a_bad_recipe_is_one_line_naming_the_stage_and_key(change, message, tmp_path):
    path = write_recipe(tmp_path, TWO_STAGES.replace(*change))
    with pytest.raises(UsageError, match=message) as error:
        check_recipe(read_recipe(path), {}, tmp_path / "run")
    assert "\n" not in str(error.value)


def test_train_refuses_a_bad_recipe_in_one_line_before_writing(tmp_path, monkeypatch, capsys):
    path = write_recipe(tmp_path, TWO_STAGES.replace("epochs = 2\nlr", "epochs = -1\nlr"))
    run_dir = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["train.py", "--recipe", str(path), "--output-dir", str(run_dir)])
    script = load_script("train")
    with pytest.raises(SystemExit) as exit_info:
        run(script.main, script.get_args_parser())
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: recipe {path}, stage 'second': epochs must be at least 1, got -1"
    )
    assert not run_dir.exists()
    for flags, message in (
        (["--recipe", "no-such-recipe"], "no such file and no recipe of that name; pass a .toml file or one of: camvid"),
        (["--recipe", "camvid", "--preset", "camvid"], "--recipe and --preset: pass one"),
        (["--resume", "--preset", "camvid"], "--preset camvid would be ignored: drop it"),
        (["--recipe", str(path), "--epochs", "0"], "--epochs must be at least 1, got 0"),
    ):
        monkeypatch.setattr(sys, "argv", ["train.py", *flags, "--output-dir", str(run_dir)])
        with pytest.raises(SystemExit):
            run(script.main, script.get_args_parser())
        assert message in capsys.readouterr().err
        assert not run_dir.exists()


def test_every_bundled_recipe_checks_and_the_presets_are_its_one_stage_recipes(tmp_path):
    assert {"camvid", "camvid-lean", "paper-exp1", "paper-exp2"} <= set(bundled_recipes())
    for name in bundled_recipes():
        configs = check_recipe(read_recipe(name), {"data_dir": "CamVid"}, tmp_path)
        assert all(isinstance(config, TrainConfig) for config in configs)
    assert set(PRESETS) == {name for name in bundled_recipes() if len(read_recipe(name).stages) == 1}
    release = check_recipe(read_recipe("camvid-lean"), {}, tmp_path)
    assert [config.epochs for config in release] == [90] * 6 + [20]
    assert release[-1].input_size == (352, 480) and release[0].input_size == (256, 352)
    assert [config.mix for config in release] == ["none"] * 4 + ["classmix"] * 3


def test_flags_replace_a_recipes_settings_in_every_stage(tmp_path):
    recipe = read_recipe(write_recipe(tmp_path))
    configs = check_recipe(recipe, {"batch_size": 2, "init_weights": "start.keras"}, tmp_path / "run")
    assert [config.batch_size for config in configs] == [2, 2]
    assert configs[0].init_weights == "start.keras"  # the first stage starts from it, the others from their stage before
    assert configs[1].init_weights == str(tmp_path / "run" / "1-first" / "last.keras")
    np.testing.assert_equal([config.output_dir for config in configs], [str(tmp_path / "run" / f) for f in ("1-first", "2-second")])


@pytest.mark.slow
def test_resume_refuses_another_model_and_a_refused_first_stage_leaves_nothing(recipe_run, tmp_path):
    run_dir, _ = recipe_run
    (run_dir / "metrics.json").rename(run_dir / "metrics.moved")
    try:
        with pytest.raises(UsageError, match="^--model paper: the recipe run in .* which --resume keeps"):
            prepare_recipe_run(None, str(run_dir), {"model": "paper"}, resume=True)
    finally:
        (run_dir / "metrics.moved").rename(run_dir / "metrics.json")
    recipe = read_recipe(write_recipe(tmp_path))
    new_dir = tmp_path / "new"
    with pytest.raises(UsageError, match="pass it with --data-dir"):
        run_recipe(recipe, str(new_dir), {"dataset": "camvid", "dataset_options": {}})
    assert not new_dir.exists()  # so the same command, corrected, runs again
