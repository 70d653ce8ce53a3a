"""Where and in what precision a run computes: the distribution strategy and the dtype policy.

TensorFlow and JAX are imported only when a setting needs them, so a run on JAX with
the default strategy never imports TensorFlow.
"""

import contextlib

import keras

from keras_deconvnet.errors import UsageError


def distribution_scope(name: str):
    """The scope to build the model in for `--strategy` `name` (default, mirrored or multiworker)."""
    if name == "default":
        return contextlib.nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"--strategy {name} needs the TensorFlow backend; use --strategy default")
    import tensorflow as tf

    strategies = {
        "mirrored": tf.distribute.MirroredStrategy,
        "multiworker": tf.distribute.MultiWorkerMirroredStrategy,
    }
    if name not in strategies:
        raise UsageError(f"unknown strategy '{name}'; choose default, mirrored or multiworker")
    return strategies[name]().scope()


def _has_gpu() -> bool:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def set_mixed_precision(enabled: bool) -> str:
    """float16 compute on GPUs, bfloat16 on CPUs (float16 is slow there); logits stay float32."""
    policy = "float32"
    if enabled:
        policy = "mixed_float16" if _has_gpu() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
