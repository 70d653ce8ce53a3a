"""The mixed-sample augmentation's modes and the checks of its settings, without TensorFlow.

Both pipelines check their mixing arguments here: the tf.data one (`keras_deconvnet.data.mixing`
needs TensorFlow) and the NumPy one (which must not import it), so they accept and refuse
the same settings with the same messages.
"""

from keras_deconvnet.errors import UsageError

MIX_MODES = ("none", "classmix", "cutmix")
MIXING_MODES = MIX_MODES[1:]  # the modes that paste regions; what the mixers themselves accept


def check_mix(mix: str, probability: float, batch_size: int) -> None:
    """Checks a pipeline's mixing arguments.

    Raises:
        UsageError: an unknown mode, a probability outside (0, 1], or mixing a batch of 1.
    """
    if mix not in MIX_MODES:
        raise UsageError(f"mix must be one of {', '.join(MIX_MODES)}, got {mix!r}")
    if not 0 < probability <= 1:
        raise UsageError(f"mix_probability must be in (0, 1], got {probability}")
    if mix != "none" and batch_size < 2:
        raise UsageError(f"mix {mix!r} takes regions from the other images of a batch; use a batch of at least 2")


def check_mix_mode(mode: str) -> None:
    """Checks the mode a mixer was called with.

    Raises:
        UsageError: a mode that does not mix (including "none", which callers skip the mixer for).
    """
    if mode not in MIXING_MODES:
        raise UsageError(f"mix mode must be one of {', '.join(MIXING_MODES)}, got {mode!r}")
