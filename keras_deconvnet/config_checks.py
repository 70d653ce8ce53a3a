"""The range of every number a training run takes, checked before anything is loaded or written.

A typo such as `--epochs 0` or `--lr -1` gets one line naming the flag, not a traceback, a
run that trains uphill or a run folder of nulls.
"""

from typing import TYPE_CHECKING

from keras_deconvnet.errors import UsageError

if TYPE_CHECKING:
    from keras_deconvnet.training import TrainConfig

# (field, whether its value is valid, what it must be), in the order of the flags' help.
RULES = (
    ("lr", lambda config: config.lr > 0, "above 0"),
    ("momentum", lambda config: 0 <= config.momentum < 1, "in [0, 1)"),
    ("weight_decay", lambda config: config.weight_decay >= 0, "at least 0"),
    ("epochs", lambda config: config.epochs >= 1, "at least 1"),
    ("warmup_epochs", lambda config: 0 <= config.warmup_epochs < config.epochs, "at least 0 and below --epochs"),
    ("batch_size", lambda config: config.batch_size >= 1, "at least 1"),
    ("patience", lambda config: config.patience >= 0, "at least 0 (0 turns early stopping off)"),
)


def validate(config: "TrainConfig") -> None:
    """Checks the numbers of a `TrainConfig`.

    Raises:
        UsageError: the first setting out of range, named by its flag.
    """
    for field, valid, rule in RULES:
        if not valid(config):
            flag = "--" + field.replace("_", "-")
            raise UsageError(f"{flag} must be {rule}, got {getattr(config, field)}")
    scale_range = tuple(config.scale_range)
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise UsageError(
            f"--scale-range must be two numbers MIN,MAX with 0 < MIN <= MAX, got {','.join(map(str, scale_range))}"
        )
