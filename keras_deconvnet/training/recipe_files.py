"""Recipe files: a training schedule as named stages in TOML, read without Keras.

A recipe names the settings every stage starts from and, stage by stage, the ones it changes;
each stage trains from the last epoch of the one before (`keras_deconvnet.training.recipes`
runs them). The keys are `TrainConfig` fields, as config.json stores them:

    description = "lean on CamVid: crops, then full size"

    [settings]
    model = "lean"
    dataset = "camvid"
    input_size = [256, 352]

    [[stages]]
    name = "crops"
    epochs = 180

    [[stages]]
    name = "full-size"
    epochs = 20
    input_size = [352, 480]
    lr = 5e-4

The recipes shipped with the package lie in `keras_deconvnet/recipes/`; `--recipe NAME` finds
them by name, and the one-stage ones are also the presets (`--preset NAME`).
"""

import dataclasses
import re
import tomllib
from pathlib import Path

from keras_deconvnet.errors import UsageError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "recipes"
TOP_LEVEL_KEYS = ("description", "settings", "stages")
STAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a recipe: its name and the settings it changes."""

    name: str
    settings: dict


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A recipe as read from its file: the shared settings and the stages, in order."""

    name: str  # the file's stem
    path: Path
    text: str  # the file as read, kept beside a run so that --resume follows the same recipe
    description: str
    settings: dict
    stages: tuple[Stage, ...]

    @property
    def source(self) -> str:
        """How runs record it: a bundled recipe's name, else its path."""
        return self.name if self.path.parent == BUNDLED_DIR else str(self.path)

    def stage_settings(self, index: int) -> dict:
        """The settings of stage `index`: the shared ones, then the stage's own."""
        return {**self.settings, **self.stages[index].settings}


def bundled_recipes() -> dict[str, Path]:
    """{name: path} of the recipes shipped with the package."""
    return {path.stem: path for path in sorted(BUNDLED_DIR.glob("*.toml"))}


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file by path, or by the name of a bundled one ("camvid-lean").

    Raises:
        UsageError: neither a file nor a bundled recipe.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = bundled_recipes()
    if str(name_or_path) in bundled:
        return bundled[str(name_or_path)]
    raise UsageError(
        f"--recipe {name_or_path}: no such file and no recipe of that name; pass a .toml file or one of: "
        f"{', '.join(bundled)}"
    )


def parse_recipe(text: str, path: Path) -> Recipe:
    """Reads a recipe's structure: tables, stage names and value types TOML gives (arrays become
    tuples, as `TrainConfig` holds sizes and ranges). Keys and values are checked by
    `keras_deconvnet.training.recipes.check_recipe`.

    Raises:
        UsageError: not TOML, an unknown top-level key, no stages, or a stage without a good name.
    """
    where = f"recipe {path}"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{where}: not valid TOML ({error})") from None
    unknown = sorted(set(document) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise UsageError(
            f"{where}: unknown key '{unknown[0]}' at the top; a recipe has {', '.join(TOP_LEVEL_KEYS)} "
            "(settings go in [settings] or a [[stages]] table)"
        )
    settings = document.get("settings", {})
    stages = document.get("stages")
    if not isinstance(settings, dict):
        raise UsageError(f"{where}: settings must be a table, [settings]")
    if not isinstance(stages, list) or not stages or not all(isinstance(stage, dict) for stage in stages):
        raise UsageError(f"{where}: it has no stages; add at least one [[stages]] table with a name and its settings")
    parsed = []
    for number, stage in enumerate(stages, start=1):
        name = stage.get("name")
        if not isinstance(name, str) or not STAGE_NAME.fullmatch(name):
            raise UsageError(
                f"{where}: stage {number} needs a name of letters, digits, '-', '_' or '.' (it names its folder), "
                f"got {name!r}"
            )
        if name in (earlier.name for earlier in parsed):
            raise UsageError(f"{where}: two stages are named '{name}'; give each stage its own name")
        parsed.append(Stage(name, _tuples({key: value for key, value in stage.items() if key != "name"})))
    description = document.get("description", "")
    return Recipe(path.stem, path, text, str(description), _tuples(settings), tuple(parsed))


def read_recipe(name_or_path: str | Path) -> Recipe:
    """`parse_recipe` of the file `find_recipe` finds."""
    path = find_recipe(name_or_path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"recipe {path}: cannot be read ({error})") from None
    return parse_recipe(text, path)


def _tuples(settings: dict) -> dict:
    """TOML arrays as tuples."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in settings.items()}


def preset_settings() -> dict[str, dict]:
    """{name: settings} of the bundled one-stage recipes, the presets."""
    presets = {}
    for name, path in bundled_recipes().items():
        recipe = parse_recipe(path.read_text(), path)
        if len(recipe.stages) == 1:
            presets[name] = recipe.stage_settings(0)
    return presets
