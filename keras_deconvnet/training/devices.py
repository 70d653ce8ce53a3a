"""Where and in what precision a run computes: the distribution strategy and the dtype policy.

TensorFlow and JAX are imported only when a setting needs them, so a run on JAX with
the default strategy never imports TensorFlow.
"""

import contextlib
import os

import keras

from keras_deconvnet.errors import UsageError


def make_strategy(name: str):
    """The TensorFlow distribution strategy `--strategy name` means, or None for "default".

    Call it before any other TensorFlow op: `MultiWorkerMirroredStrategy` configures its
    collective ops when it is created (from TF_CONFIG), which TensorFlow allows only at startup.
    """
    if name == "default":
        return None
    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"--strategy {name} needs the TensorFlow backend; use --strategy default")
    import tensorflow as tf

    class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """What Keras 3's `fit` needs of a multi-worker strategy (keras-team/keras#20585): it
        reduces a whole (images, masks) batch in one call, which the strategy takes only for
        single values, and each scalar log along an axis 0 that a scalar lacks. This reduces
        leaf by leaf, scalars over the replicas alone."""

        def reduce(self, reduce_op, value, axis):
            def reduce_leaf(leaf):
                local = self.experimental_local_results(leaf)[0]
                leaf_axis = None if getattr(local, "shape", None) is not None and local.shape.rank == 0 else axis
                return super(MultiWorkerStrategy, self).reduce(reduce_op, leaf, leaf_axis)

            return tf.nest.map_structure(reduce_leaf, value)

    strategies = {
        "mirrored": tf.distribute.MirroredStrategy,
        "multiworker": MultiWorkerStrategy,
    }
    if name not in strategies:
        raise UsageError(f"unknown strategy '{name}'; choose default, mirrored or multiworker")
    try:
        return strategies[name]()
    except (ValueError, RuntimeError) as error:
        raise UsageError(f"--strategy {name}: {error}; check TF_CONFIG") from None


def strategy_scope(strategy):
    """The scope to build and compile the model in."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def _cluster(strategy) -> dict:
    """TF_CONFIG's cluster as the strategy read it; empty unless the run spans workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver.cluster_spec().as_dict() if resolver is not None else {}


def is_chief(strategy) -> bool:
    """Whether this process writes the run: always, except a multi-worker run's non-chief workers.

    The chief is the "chief" task of TF_CONFIG's cluster, else worker 0 (Keras' convention).
    """
    cluster = _cluster(strategy)
    if not cluster:
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def all_workers_ok(strategy, ok: bool) -> bool:
    """Whether `ok` holds on every worker of a multi-worker run; outside one, `ok` itself.

    Every worker must call it once, at the same point: they join one all-reduce, so a
    worker whose check failed tells the others before it stops, instead of leaving them to
    fail later in a collective op with an error that names neither the cause nor the fix.
    """
    if not _cluster(strategy):
        return ok
    import tensorflow as tf

    failures = strategy.experimental_distribute_values_from_function(lambda _: tf.constant(0.0 if ok else 1.0))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, failures, axis=None)) == 0.0


# A floor on what one pixel of a training batch costs in memory (activations kept for the
# backward pass, their gradients, float32): the models here take more, so a batch whose floor
# exceeds the machine's memory cannot train. A refusal, not a forecast.
TRAINING_BYTES_PER_PIXEL = 1024


def check_batch_fits_memory(input_size: tuple[int, int], batch_size: int) -> None:
    """Refuses, at once, a batch that cannot fit in this machine's memory when training on the
    CPU (rather than a long silence and a swap storm); GPUs are left to their own errors.

    Raises:
        UsageError: batch_size * height * width * TRAINING_BYTES_PER_PIXEL exceeds the memory.
    """
    height, width = input_size
    needed = batch_size * height * width * TRAINING_BYTES_PER_PIXEL
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): nothing to compare with
        return
    if needed > memory and not _has_gpu():
        raise UsageError(
            f"--input-size {height}x{width} with --batch-size {batch_size} needs at least {needed / 2**30:,.0f} GiB "
            f"of memory to train and this machine has {memory / 2**30:,.0f} GiB: train on crops (a smaller "
            "--input-size; evaluate and export run at any size) or a smaller --batch-size"
        )


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
