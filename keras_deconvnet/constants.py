"""Constants every part shares, importing nothing: the ignore label, and the names the flags offer
where the module that uses them imports Keras (read here so that `--help` starts at once; the
library imports them from here too). The mixing modes are in `data.mix_settings`, the models in
`models.registry`, the export formats in `export.options`."""



IGNORE_LABEL = 255
"""Pixels with this label count in neither the loss nor the metrics (VOC's object borders).
Every dataset's own ignore label is mapped to it by the pipeline."""


LOSS_NAMES = ("cross-entropy", "ohem", "lovasz", "ce+lovasz")  # `losses.build_loss`
WANDB_MODES = ("online", "offline", "disabled")  # `tracking.start_run`
EVALUATION_MODES = ("resize", "original")  # `evaluation.evaluate`
TTA_FLIPS = ("none", "flip")  # `--tta`, `--teacher-tta`: whether each view is averaged with its mirror
# The largest test-time-augmentation view, in multiples of the input size (`tta`): at 4 a
# view already takes 25 windows.
MAX_TTA_SCALE = 4.0
