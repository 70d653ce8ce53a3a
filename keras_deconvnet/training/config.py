"""What defines a training run: its settings, the presets, and the range of every number.

A run's settings are one `TrainConfig`, saved as its config.json. `validate` checks them before
anything is loaded or written, so a typo such as `--epochs 0` or `--lr -1` gets one line naming
the flag, not a traceback, a run that trains uphill or a run folder of nulls. The presets are
the one-stage recipe files shipped with the package (`recipe_files`).
"""

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from keras_deconvnet.constants import IGNORE_LABEL, MAX_TTA_SCALE, TTA_FLIPS
from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.recipe_files import preset_settings
from keras_deconvnet.training.run_folder import RunFolder

# The one-stage recipes shipped with the package, by name: the paper's Tables II and III and
# the CamVid recipe. Explicit flags override them.
PRESETS = preset_settings()
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "poly")
STRATEGIES = ("default", "mirrored", "multiworker")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's config.json."""

    model: str = "paper"
    dataset: str = "voc2012_segmentation"
    data_dir: str | None = None
    dataset_options: dict = dataclasses.field(default_factory=dict)  # e.g. the demo set's size
    train_split: str = "train"
    val_split: str = "val"
    num_classes: int | None = None  # for --dataset folder
    ignore_label: int = IGNORE_LABEL  # for --dataset folder
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"  # none, cosine, poly (power 0.9), each after `warmup_epochs`
    warmup_epochs: int = 0
    epochs: int = 150
    batch_size: int = 8
    input_size: tuple[int, int] = (224, 224)
    scale_range: tuple[float, float] = (0.5, 2.0)
    photometric: bool = False
    mix: str = "none"  # mixed-sample augmentation of each batch: none, classmix, cutmix
    mix_probability: float = 0.5
    loss: str = "cross-entropy"
    class_weights: str = "none"
    ema_decay: float = 0.0  # 0: off; else the weights evaluated and saved are their moving average
    teacher: str | None = None  # a .keras model to distil from (`training.distillation`)
    teacher_tta: str = "flip"  # the teacher's views: none or flip, at each of teacher_tta_scales
    teacher_tta_scales: tuple[float, ...] = (0.75, 1.0, 1.25, 1.5)
    distill_temperature: float = 2.0
    distill_weight: float = 0.5  # the share of the teacher's term in the loss
    backbone_weights: str | None = None
    init_weights: str | None = None  # a .keras model to start from (fine-tuning)
    patience: int = 20  # 0: no early stopping, a fixed schedule
    output_dir: str = "runs/latest"
    resume: bool = False
    seed: int = 0
    mixed_precision: bool = False
    strategy: str = "default"
    data_loader: str = "auto"  # tf (tf.data), numpy (no TensorFlow needed), auto: tf if installed
    wandb: str = "online"
    wandb_project: str = "keras-deconvnet"
    wandb_images_every: int = 5
    preset: str | None = None
    recipe: str | None = None  # the recipe file this run is a stage of
    stage: str | None = None  # that stage's name


def resolve_config(preset: str | None, explicit: dict) -> TrainConfig:
    """Defaults, then the preset, then the flags the user gave explicitly."""
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    values = {**(PRESETS[preset] if preset else {}), **explicit, "preset": preset}
    return TrainConfig(**values)


def flag_name(field: str) -> str:
    """The command-line flag of a `TrainConfig` field: "warmup_epochs" -> "--warmup-epochs"."""
    return "--" + field.replace("_", "-")


# What a resumed run cannot change: its checkpoint holds this model, for these classes.
FIXED_ON_RESUME = ("model", "dataset", "num_classes")


def load_run_config(run_dir: str | Path, explicit: dict) -> TrainConfig:
    """The config a run was started with (its config.json), with `explicit` flags on top; the
    settings they change are named on stderr, since the run then differs from an uninterrupted one.

    Raises:
        UsageError: no config.json, or a flag that changes what the checkpoint holds (`FIXED_ON_RESUME`).
    """
    folder = RunFolder(run_dir)
    if not folder.config.is_file():
        raise UsageError(f"nothing to resume in {run_dir}: it has no config.json")
    saved = folder.read_config()
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in saved.items() if key in fields}
    changed = {
        key: (values[key], value) for key, value in explicit.items()
        if key in values and key != "output_dir" and _as_json(value) != values[key]
    }
    for key in FIXED_ON_RESUME:
        if key in changed:
            raise UsageError(
                f"{flag_name(key)} {changed[key][1]}: the run in {run_dir} trains {key} "
                f"{changed[key][0]}, which --resume keeps; start a new run in another --output-dir"
            )
    if changed:
        listed = ", ".join(f"{flag_name(key)} {old} -> {new}" for key, (old, new) in changed.items())
        print(f"resuming with changed settings: {listed}; the run will differ from an uninterrupted one",
              file=sys.stderr)
    return TrainConfig(**{**values, **explicit, "resume": True})


def _as_json(value):
    """A flag's value as config.json stores it (tuples as lists), to compare the two."""
    return json.loads(json.dumps(value))


MAX_SEED = 2**32 - 1  # keras.utils.set_random_seed seeds NumPy, which takes no larger or negative seed

# (field, whether its value is valid, what it must be), in the order of the flags' help.
RULES = (
    ("lr", lambda config: config.lr > 0, "above 0"),
    ("momentum", lambda config: 0 <= config.momentum < 1, "in [0, 1)"),
    ("weight_decay", lambda config: config.weight_decay >= 0, "at least 0"),
    ("epochs", lambda config: config.epochs >= 1, "at least 1"),
    ("warmup_epochs", lambda config: 0 <= config.warmup_epochs < config.epochs, "at least 0 and below --epochs"),
    ("batch_size", lambda config: config.batch_size >= 1, "at least 1"),
    ("input_size", lambda config: _is_size(config.input_size), "HEIGHTxWIDTH, two positive multiples of 32"),
    ("ema_decay", lambda config: 0 <= config.ema_decay < 1, "in [0, 1) (0 turns the average off)"),
    ("teacher_tta", lambda config: config.teacher_tta in TTA_FLIPS, " or ".join(TTA_FLIPS)),
    ("teacher_tta_scales", lambda config: _are_scales(config.teacher_tta_scales), f"positive multiples of the teacher's input size, at most {MAX_TTA_SCALE:g}, such as 0.75,1.0,1.25"),
    ("distill_temperature", lambda config: config.distill_temperature > 0, "above 0"),
    ("distill_weight", lambda config: 0 <= config.distill_weight <= 1, "in [0, 1]"),
    ("teacher", lambda config: config.teacher is None or config.data_loader in ("auto", "tf"), "used with --data-loader tf (the NumPy and device loaders carry no teacher)"),
    ("mix_probability", lambda config: 0 < config.mix_probability <= 1, "in (0, 1]"),
    ("mix", lambda config: config.mix == "none" or config.batch_size >= 2, "none with --batch-size 1 (nothing to mix)"),
    ("patience", lambda config: config.patience >= 0, "at least 0 (0 turns early stopping off)"),
    ("seed", lambda config: 0 <= config.seed <= MAX_SEED, f"from 0 to {MAX_SEED} (NumPy's seed range)"),
    ("wandb_images_every", lambda config: config.wandb_images_every >= 0, "at least 0 (0 logs no overlays)"),
)


def _are_scales(scales) -> bool:
    """At least one number, each in (0, MAX_TTA_SCALE], as `keras_deconvnet.evaluation.tta` takes them."""
    scales = tuple(scales)
    return bool(scales) and all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s <= MAX_TTA_SCALE for s in scales
    )


def _is_size(size) -> bool:
    """Two positive multiples of 32, the encoders' stride."""
    return len(tuple(size)) == 2 and all(isinstance(side, int) and side > 0 and side % 32 == 0 for side in size)


def validate(config: TrainConfig, name: Callable[[str], str] = flag_name) -> None:
    """Checks the numbers of a `TrainConfig`.

    Args:
        config: the settings.
        name: how a message names a field: its flag, or a recipe's key.

    Raises:
        UsageError: the first setting out of range, named by `name`.
    """
    for field, valid, rule in RULES:
        if not valid(config):
            value = getattr(config, field)
            from_preset = config.preset and PRESETS[config.preset].get(field) == value
            source = f" (set by --preset {config.preset}; pass {flag_name(field)} to change it)" if from_preset else ""
            raise UsageError(f"{name(field)} must be {rule}, got {value}{source}")
    scale_range = tuple(config.scale_range)
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise UsageError(
            f"{name('scale_range')} must be two numbers MIN,MAX with 0 < MIN <= MAX, "
            f"got {','.join(map(str, scale_range))}"
        )
