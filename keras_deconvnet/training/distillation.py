"""Distillation: the student learns from a teacher's softened probabilities as well as the labels.

A distillation run's training targets are (B, H, W, 1 + C) floats: channel 0 the label (255 =
ignore), channels 1..C the teacher's probabilities for that pixel, cropped, scaled, flipped and
mixed with the image (`keras_deconvnet.data.pipeline`, `soft_targets`); its validation targets stay
plain labels. `DistillationLoss` is

    (1 - weight) * hard_loss(labels, logits) + weight * T^2 * KL(teacher_T || student_T)

where `_T` is a distribution softened at temperature T (Hinton et al., 2015; the T^2 keeps the
soft term's gradient the size of the hard one's), averaged over the pixels the teacher covers:
padding outside the image has all-zero teacher channels and counts nothing. Void pixels, which
the hard loss skips, do count: the teacher has an opinion there, the labels have none.

Reference: G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a Neural Network",
NIPS 2014 Deep Learning Workshop.
"""

import keras
from keras import ops

from keras_deconvnet.losses import replicas


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class DistillationLoss(keras.losses.Loss):
    """A hard loss on the labels plus the KL divergence to a teacher's probabilities.

    Args:
        hard_loss: the loss of the labels (`build_loss`), from logits.
        temperature: T, above 0; higher softens both distributions more.
        weight: the share of the soft term, in [0, 1].

    Targets of the plain (B, H, W) shape get the hard loss alone, so validation needs no teacher.
    """

    def __init__(
        self,
        hard_loss: keras.losses.Loss,
        temperature: float = 2.0,
        weight: float = 0.5,
        name: str = "distillation",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if isinstance(hard_loss, dict):  # from get_config
            hard_loss = keras.saving.deserialize_keras_object(hard_loss)
        self.hard_loss = hard_loss
        self.temperature = float(temperature)
        self.weight = float(weight)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hard_loss": keras.saving.serialize_keras_object(self.hard_loss),
            "temperature": self.temperature,
            "weight": self.weight,
        }

    def call(self, y_true, y_pred):
        if len(y_true.shape) != len(y_pred.shape) or y_true.shape[-1] != y_pred.shape[-1] + 1:
            return self.hard_loss.call(y_true, y_pred)
        hard = self.hard_loss.call(y_true[..., 0], y_pred)
        return (1.0 - self.weight) * hard + self.weight * self.soft_loss(y_true[..., 1:], y_pred)

    def soft_loss(self, teacher, logits):
        """T^2 times the mean KL divergence over the pixels the teacher covers."""
        logits = ops.cast(logits, "float32")
        teacher = ops.cast(teacher, "float32")
        covered = ops.cast(ops.sum(teacher, axis=-1) > 0.5, "float32")
        # Probabilities stored as uint8 may hold zeros: floor them before the log.
        softened = ops.softmax(ops.log(ops.maximum(teacher, 1e-6)) / self.temperature, axis=-1)
        student = ops.log_softmax(logits / self.temperature, axis=-1)
        pixel_kl = ops.sum(softened * (ops.log(ops.maximum(softened, 1e-12)) - student), axis=-1)
        _, sum_over_replicas = replicas()
        total = sum_over_replicas(ops.stop_gradient(ops.sum(covered)))
        return self.temperature**2 * ops.sum(pixel_kl * covered) / ops.maximum(total, 1.0)
