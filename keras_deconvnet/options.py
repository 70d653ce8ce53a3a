"""What the flags offer where the module that uses it imports Keras, read here without it, so
that `--help` starts at once. Each is defined once: the library imports it from here too.
(The mixing modes are in `mix_settings`, the models in `models.registry`, the export formats
in `export.options`.)"""

LOSS_NAMES = ("cross-entropy", "ohem", "lovasz", "ce+lovasz")  # `losses.build_loss`
WANDB_MODES = ("online", "offline", "disabled")  # `tracking.start_run`
EVALUATION_MODES = ("resize", "original")  # `evaluation.evaluate`
TTA_FLIPS = ("none", "flip")  # `--tta`, `--teacher-tta`: whether each view is averaged with its mirror
# The largest test-time-augmentation view, in multiples of the input size (`tta`): at 4 a
# view already takes 25 windows.
MAX_TTA_SCALE = 4.0
