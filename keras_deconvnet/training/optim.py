"""The optimizer of a run and its learning-rate schedule, from a `TrainConfig`."""

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.config import SCHEDULES, TrainConfig


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class WarmupPolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up to `peak`, then `peak * (1 - t) ** power`, t going from 0 to 1 over `decay_steps`.

    The "poly" schedule with which DABNet, CGNet and LETNet train on CamVid (power 0.9).
    Keras' `PolynomialDecay` has no warm-up.
    """

    def __init__(self, peak: float, decay_steps: int, warmup_steps: int = 0, power: float = 0.9):
        self.peak, self.decay_steps, self.warmup_steps, self.power = peak, decay_steps, warmup_steps, power

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = keras.ops.clip((step - self.warmup_steps) / max(self.decay_steps, 1), 0.0, 1.0)
        decayed = self.peak * (1.0 - progress) ** self.power
        return keras.ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {"peak": self.peak, "decay_steps": self.decay_steps, "warmup_steps": self.warmup_steps, "power": self.power}


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A constant rate, or a cosine or poly decay over the whole run after an optional linear warm-up."""
    if config.schedule == "none":
        return config.lr
    if config.schedule not in SCHEDULES:
        raise UsageError(f"unknown schedule '{config.schedule}'; choose one of: {', '.join(SCHEDULES)}")
    warmup_steps = config.warmup_epochs * steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    if config.schedule == "poly":
        return WarmupPolyDecay(config.lr, max(total_steps - warmup_steps, 1), warmup_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else config.lr,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=config.lr if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD (with momentum), Adam or AdamW, on `learning_rate(config, steps_per_epoch)`, keeping a
    moving average of the weights when `config.ema_decay` is above 0."""
    rate = learning_rate(config, steps_per_epoch)
    average = {"use_ema": config.ema_decay > 0, "ema_momentum": config.ema_decay or 0.99}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            rate, momentum=config.momentum, weight_decay=config.weight_decay or None, **average
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=config.weight_decay or None, **average)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay or 0.004, **average)
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
