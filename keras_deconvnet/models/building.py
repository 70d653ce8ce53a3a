"""`build_model(name, ...)`: every model `--model` names, built, checked and given the package's
batch-norm momentum; and what the other parts ask of a built model (its input size, whether
weights fit, the same model at another input size)."""

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models.registry import MODEL_NAMES, model_builder

# 255 is the ignore label, so class indices stop below it.
_MAX_CLASSES = 255
# Batch-norm momentum of every model: PyTorch's default (its momentum=0.1). Keras' 0.99, and
# keras.applications' 0.999 for MobileNetV3, suit fine-tuning; trained from scratch with Adam,
# weights move so fast that moving statistics averaged over 100-1000 steps lag them, and the
# model in inference mode (validation, export) is far worse than in training mode (measured
# on CamVid after 7 epochs: 3.9% val mIoU as saved, 41.9% once the statistics were
# recomputed). With 0.9 they follow within about ten steps.
BN_MOMENTUM = 0.9


def all_layers(model: keras.Model):
    """Every layer of `model`, nested sub-models (the stages) walked into."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def set_batch_norm_momentum(model: keras.Model, momentum: float = BN_MOMENTUM) -> keras.Model:
    """Sets the momentum of every batch norm, nested sub-models included; returns `model`."""
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
    return model


def check_input_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Returns `input_shape` as (height, width, 3); raises if it is not one the models take."""
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise UsageError(f"input_shape must be (height, width, 3) RGB, got {shape}")
    if shape[0] % 32 or shape[1] % 32:
        raise UsageError(
            f"input_shape {shape}: height and width must be multiples of 32 (the encoder's "
            "stride), e.g. (224, 224, 3) or (352, 480, 3)"
        )
    return shape


def build_model(
    name: str,
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds a segmentation model by name.

    Args:
        name: one of `MODEL_NAMES`: "paper" (MobileNetV3-Small DeconvNet, Table I of the
            paper), "deconvnet_vgg16" (the original DeconvNet), "lean" (our efficient
            DeconvNet with skips), "lean_minimalistic" (lean on the minimalistic encoder,
            no hard-swish: for int8), "lean_context" (lean with a wider, dilated stride-8
            stage), or the peer heads "lraspp_small", "lraspp_large",
            "aspp_small"; "paper_spatial" and "paper_skips" are ablations of "paper" (its
            code kept on the conv5 grid; that plus encoder skips).
        num_classes: classes predicted per pixel, 2 to 255.
        input_shape: (height, width, 3); height and width multiples of 32.
        backbone_weights: None (random), "imagenet" (the Keras download) or a path to a
            local copy of the encoder's weights file.

    Returns:
        A functional model from RGB 0..255 images, any batch size, to per-pixel logits of
        shape (batch, height, width, num_classes).

    Example:
        >>> model = build_model("paper", num_classes=11, input_shape=(352, 480, 3))
    """
    if name not in MODEL_NAMES:
        raise UsageError(f"unknown model '{name}'; choose one of: {', '.join(MODEL_NAMES)}")
    if not isinstance(num_classes, int) or not 2 <= num_classes <= _MAX_CLASSES:
        raise UsageError(f"num_classes must be an integer from 2 to {_MAX_CLASSES}, got {num_classes}")
    model = model_builder(name)(
        num_classes=num_classes,
        input_shape=check_input_shape(input_shape),
        backbone_weights=backbone_weights,
    )
    return set_batch_norm_momentum(model)


def model_input_size(model: keras.Model) -> tuple[int, int]:
    """The fixed (height, width) of a segmentation model's images."""
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        raise UsageError(f"model '{model.name}' has no fixed input size; rebuild it with one")
    return height, width


def fits(source: keras.Model, target: keras.Model) -> bool:
    """True if `source`'s weights have the shapes of `target`'s, one for one."""
    shapes = lambda model: [tuple(weight.shape) for weight in model.weights]
    return shapes(source) == shapes(target)


def resize_model(model: keras.Model, input_size: tuple[int, int]) -> keras.Model:
    """The same model, with the same weights, built for another input size.

    Every weight of these fully convolutional models is independent of the input size, so a
    model trained on 256x352 crops of images scaled around 1 can predict whole 352x480
    images, where each object has the size it had in training.

    Args:
        model: a model built by `build_model` (its name is its `build_model` name).
        input_size: the new (height, width), multiples of 32.

    Returns:
        `model` itself if it already has that size, else the rebuilt model.

    Raises:
        UsageError: the model is not one `build_model` makes.
    """
    if tuple(model.input_shape[1:3]) == tuple(input_size):
        return model
    if model.name in MODEL_NAMES:
        resized = build_model(model.name, num_classes=model.output_shape[-1], input_shape=(*input_size, 3))
        if fits(model, resized):
            resized.set_weights(model.get_weights())
            return resized
    raise UsageError(
        f"model '{model.name}' was not built by keras_deconvnet.build_model, so it cannot be "
        "rebuilt at another input size"
    )
