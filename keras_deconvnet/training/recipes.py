"""Running a recipe: its stages one after another in one run folder, resumable anywhere.

A recipe run in OUT holds `recipe.toml` (the recipe as it was run), `recipe.json` (where it
came from, the commit, the flags given on top) and a run folder per stage, `1-crops/`,
`2-full-size/`, ... Stage N starts from the last epoch of stage N-1 (its `last.keras`), with
a fresh optimizer and schedule. When the last stage ends, its config, checkpoints and
metrics are copied to OUT itself, with every stage's figures in metrics.json, so OUT reads as
one finished run. A run killed anywhere continues with `--resume --output-dir OUT`: finished
stages are skipped, the stage in progress goes on from its last epoch.
"""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir, write_json
from keras_deconvnet.training.class_weights import NAMED_WEIGHTS
from keras_deconvnet.training.config import (
    FIXED_ON_RESUME,
    OPTIMIZERS,
    SCHEDULES,
    STRATEGIES,
    TrainConfig,
    flag_name,
    validate,
)
from keras_deconvnet.training.recipe_files import Recipe, parse_recipe, read_recipe
from keras_deconvnet.training.run_folder import RunFolder

# Fields a recipe cannot set: where the run goes and how it was started belong to the command.
NOT_IN_RECIPES = ("output_dir", "resume", "preset", "recipe", "stage")


def _field_types() -> dict[str, type]:
    return {field.name: field.type for field in dataclasses.fields(TrainConfig)}


def _choices() -> dict[str, tuple[str, ...]]:
    """The fields with a fixed set of values, and those values."""
    from keras_deconvnet.constants import LOSS_NAMES, TTA_FLIPS, WANDB_MODES
    from keras_deconvnet.data.mix_settings import MIX_MODES
    from keras_deconvnet.models.registry import MODEL_NAMES
    from keras_deconvnet.training.data import DATA_LOADERS

    return {
        "model": MODEL_NAMES, "loss": LOSS_NAMES, "mix": MIX_MODES, "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES, "strategy": STRATEGIES, "data_loader": DATA_LOADERS, "wandb": WANDB_MODES,
        "teacher_tta": TTA_FLIPS,
    }


# A field's type -> (whether a TOML value fits it, how it is stored, what it must be).
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


VALUE_TYPES = {
    bool: (lambda value: isinstance(value, bool), bool, "true or false"),
    int: (_is_int, int, "an integer"),
    int | None: (_is_int, int, "an integer"),
    float: (_is_number, float, "a number"),
    str: (lambda value: isinstance(value, str), str, "a string"),
    str | None: (lambda value: isinstance(value, str), str, "a string"),
    dict: (lambda value: isinstance(value, dict), dict, "a table"),
    tuple[int, int]: (
        lambda value: isinstance(value, tuple) and len(value) == 2 and all(map(_is_int, value)),
        tuple, "an array of two integers",
    ),
    tuple[float, float]: (
        lambda value: isinstance(value, tuple) and len(value) == 2 and all(map(_is_number, value)),
        lambda value: tuple(map(float, value)), "an array of two numbers",
    ),
    tuple[float, ...]: (
        lambda value: isinstance(value, tuple) and len(value) > 0 and all(map(_is_number, value)),
        lambda value: tuple(map(float, value)), "an array of numbers",
    ),
}


def _are_numbers(text: str) -> bool:
    try:
        [float(part) for part in text.split(",")]
    except ValueError:
        return False
    return True


def stage_config(recipe: Recipe, index: int, overrides: dict, run_dir: Path) -> TrainConfig:
    """Stage `index`'s settings: the recipe's, then the flags given on top (`overrides`), in
    its folder under `run_dir`, starting from the last epoch of the stage before.

    Raises:
        UsageError: a key that is no setting, a value of the wrong type or out of range, a
            stage that changes the model or dataset, named with the recipe, stage and key.
    """
    stage = recipe.stages[index]
    where = f"recipe {recipe.path}, stage '{stage.name}'"
    types, choices = _field_types(), _choices()
    for scope, settings in (("[settings]", recipe.settings), (f"stage '{stage.name}'", stage.settings)):
        for key in settings:
            if key not in types or key in NOT_IN_RECIPES:
                known = ", ".join(name for name in types if name not in NOT_IN_RECIPES)
                raise UsageError(f"recipe {recipe.path}, {scope}: unknown key '{key}'; a setting is one of: {known}")
    for key in FIXED_ON_RESUME:
        if key in stage.settings and index > 0:
            raise UsageError(f"{where}: {key} belongs in [settings]; every stage trains the same model on the same data")
    if "init_weights" in stage.settings and index > 0:
        raise UsageError(f"{where}: only the first stage sets init_weights; the others start from the stage before")
    values = {}
    for key, value in recipe.stage_settings(index).items():
        fits, stored, expected = VALUE_TYPES[types[key]]
        if not fits(value):
            raise UsageError(f"{where}: {key} must be {expected}, got {value!r}")
        values[key] = stored(value)
        if key in choices and value not in choices[key]:
            raise UsageError(f"{where}: {key} must be one of {', '.join(choices[key])}, got {value!r}")
        if key == "class_weights" and value not in NAMED_WEIGHTS and not _are_numbers(value):
            raise UsageError(
                f"{where}: class_weights must be one of {', '.join(NAMED_WEIGHTS)} or comma-separated numbers, "
                f"got {value!r}"
            )
    values.update(overrides if index == 0 else {k: v for k, v in overrides.items() if k != "init_weights"})
    values.update(recipe=recipe.source, stage=stage.name, output_dir=str(run_dir / stage_folder(recipe, index)))
    if index > 0:
        values["init_weights"] = str(RunFolder(run_dir / stage_folder(recipe, index - 1)).last_model)
    config = TrainConfig(**values)
    validate(config, name=lambda field: flag_name(field) if field in overrides else f"{where}: {field}")
    return config


def stage_folder(recipe: Recipe, index: int) -> str:
    """The folder of stage `index` inside the run: "1-crops"."""
    return f"{index + 1}-{recipe.stages[index].name}"


def check_recipe(recipe: Recipe, overrides: dict, run_dir: Path) -> list[TrainConfig]:
    """Every stage's `stage_config`, so that a mistake in the last stage stops the run before the first."""
    return [stage_config(recipe, index, overrides, run_dir) for index in range(len(recipe.stages))]


def is_recipe_run(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a recipe run (its recipe.json)."""
    return RunFolder(run_dir).recipe_state.is_file()


def prepare_recipe_run(recipe_name: str | None, output_dir: str, overrides: dict, resume: bool) -> tuple[Recipe, dict]:
    """The recipe and the flags on top for a new run in `output_dir`, or for the one it holds.

    Raises:
        UsageError: a new run in a folder that holds one, nothing to resume, or another recipe
            than the run's.
    """
    run_dir = check_output_dir(output_dir, "--output-dir")
    if not resume:
        if run_dir.is_dir() and any(run_dir.iterdir()):
            raise UsageError(
                f"{run_dir} is not empty; pass --resume to continue the run it holds or choose another --output-dir"
            )
        return read_recipe(recipe_name), overrides
    folder = RunFolder(run_dir)
    if not is_recipe_run(run_dir):
        raise UsageError(f"nothing to resume in {run_dir}: it holds no recipe run ({folder.recipe_state.name})")
    if folder.has_finished():
        raise UsageError(
            f"the recipe run in {run_dir} has finished; to train it further, start a new run from its weights: "
            f"--init-weights {folder.last_model} --output-dir NEW_FOLDER"
        )
    state = json.loads(folder.recipe_state.read_text())
    recipe = parse_recipe(folder.recipe.read_text(), Path(state["recipe"]))
    if recipe_name is not None and read_recipe(recipe_name).text != recipe.text:
        raise UsageError(
            f"--recipe {recipe_name} differs from the recipe the run in {run_dir} follows ({state['recipe']}, "
            f"kept as {folder.recipe}); leave --recipe out to resume it"
        )
    saved = state["overrides"]
    changed = {key: value for key, value in overrides.items() if json.dumps(saved.get(key)) != json.dumps(value)}
    for key in FIXED_ON_RESUME:
        if key in changed:
            raise UsageError(
                f"{flag_name(key)} {changed[key]}: the recipe run in {run_dir} trains the {key} its recipe and "
                "flags set, which --resume keeps; start a new run in another --output-dir"
            )
    if changed:
        listed = ", ".join(f"{flag_name(key)} {value}" for key, value in changed.items())
        print(f"resuming with changed settings: {listed}; the run will differ from an uninterrupted one", file=sys.stderr)
    return recipe, {**saved, **overrides}


def _forget(run_dir: Path, created: bool) -> None:
    """Removes what a recipe run wrote before its first stage started."""
    folder = RunFolder(run_dir)
    for path in (folder.recipe_state, folder.recipe):
        path.unlink(missing_ok=True)
    if created:
        shutil.rmtree(run_dir, ignore_errors=True)


def run_recipe(recipe: Recipe, output_dir: str, overrides: dict | None = None, resume: bool = False) -> dict:
    """Trains every stage of `recipe` in turn in `output_dir`; returns the run's metrics.

    Args:
        recipe: from `read_recipe` (or `prepare_recipe_run`).
        output_dir: the run folder.
        overrides: `TrainConfig` settings that replace the recipe's in every stage (the
            command's explicit flags, such as data_dir or wandb); init_weights only in the first.
        resume: go on with the run `output_dir` holds.

    Returns:
        The last stage's metrics, with "stages" (each stage's) and the total wall time.
    """
    from keras_deconvnet.training.loop import source_commit, train

    overrides = dict(overrides or {})
    run_dir = Path(output_dir)
    folder = RunFolder(run_dir)
    configs = check_recipe(recipe, overrides, run_dir)
    created = not run_dir.exists()
    if not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        folder.recipe.write_text(recipe.text)
        state = {"recipe": recipe.source, "commit": source_commit(), "overrides": overrides}
        write_json(folder.recipe_state, state)  # last: it marks the folder as a recipe run
    stages = {}
    try:
        for index, config in enumerate(configs):
            stage = RunFolder(config.output_dir)
            if not stage.has_finished():
                started = stage.config.is_file()
                print(f"stage {index + 1}/{len(configs)} '{config.stage}': {config.epochs} epochs in {stage.path}")
                train(dataclasses.replace(config, resume=started))
            stages[config.stage] = json.loads(stage.metrics.read_text())
    except BaseException:
        if not resume and not RunFolder(configs[0].output_dir).config.is_file():
            _forget(run_dir, created)  # refused before it started (bad data, say): the same command may run again
        raise
    for path in RunFolder(configs[-1].output_dir).final_files:
        if path.is_file():
            shutil.copy2(path, run_dir / path.name)
    metrics = {
        **stages[configs[-1].stage],
        "recipe": recipe.source,
        "epochs_run": sum(stage["epochs_run"] for stage in stages.values()),
        "wall_time_s": round(sum(stage["wall_time_s"] for stage in stages.values()), 1),
        "stages": stages,
    }
    write_json(folder.metrics, metrics)  # last: it marks the run finished
    return metrics
