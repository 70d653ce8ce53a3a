"""The optimizer of a run and its learning-rate schedule, from a `TrainConfig`."""

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.config import TrainConfig


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A constant rate, or a cosine decay over the whole run after an optional linear warm-up."""
    if config.schedule == "none":
        return config.lr
    if config.schedule != "cosine":
        raise UsageError(f"unknown schedule '{config.schedule}'; choose none or cosine")
    warmup_steps = config.warmup_epochs * steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else config.lr,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=config.lr if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD (with momentum), Adam or AdamW, on `learning_rate(config, steps_per_epoch)`."""
    rate = learning_rate(config, steps_per_epoch)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            rate, momentum=config.momentum, weight_decay=config.weight_decay or None
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=config.weight_decay or None)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay or 0.004)
    raise UsageError(f"unknown optimizer '{config.optimizer}'; choose sgd, adam or adamw")


def compile_for_training(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss: keras.losses.Loss,
    metrics: list | None = None,
) -> None:
    """Compiles `model` and creates its optimizer's variables now.

    Left to the first step (Keras' TensorFlow trainer defers them), they are created inside
    that step's trace, and TensorFlow traces the step a second time: seconds of start-up.

    Args:
        model: a built model (its weights exist), e.g. from `build_model`.
        optimizer: e.g. from `build_optimizer`.
        loss: e.g. from `keras_deconvnet.losses.build_loss`.
        metrics: as `model.compile` takes them.
    """
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    # An unbuilt model has no weights to build slots for; a LossScaleOptimizer builds only once.
    if model.built and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
