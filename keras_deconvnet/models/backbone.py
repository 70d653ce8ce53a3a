"""MobileNetV3 encoders from `keras.applications`, and the taps the decoders read.

The encoder is `keras.applications.MobileNetV3Small` (or `Large`) without its top, with its
own preprocessing (inputs are RGB 0..255), optionally minimalistic (ReLU, 3x3 kernels, no
squeeze-excite: no hard-swish op, so int8 delegates run it whole). Its blocks are found by
walking the graph: a block's output is its residual `add` or, without one, its `project_bn`;
the minimalistic graph names them the same.
"""

from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError

_APPLICATIONS = {
    "small": keras.applications.MobileNetV3Small,
    "large": keras.applications.MobileNetV3Large,
}
_WEIGHTS_FILE = "weights_mobilenet_v3_{variant}_224_1.0_float_no_top_v2.h5"


def check_weights_argument(weights: str | None) -> str | None:
    """Returns `weights` if it is None, "imagenet" or an existing file; raises otherwise."""
    if weights is None or weights == "imagenet":
        return weights
    if not Path(weights).is_file():
        raise UsageError(
            f"backbone weights file not found: {weights}; pass an existing weights file, "
            "'imagenet' or None"
        )
    return str(weights)


def build_mobilenet_v3(
    input_shape: tuple[int, int, int],
    size: str = "small",
    weights: str | None = None,
    minimalistic: bool = False,
) -> keras.Model:
    """Builds a MobileNetV3 encoder (no top, preprocessing included).

    Args:
        input_shape: (height, width, 3).
        size: "small" or "large".
        weights: None (random), "imagenet" (the Keras download, cached in ~/.keras/models)
            or the path to a local copy of that weights file.
        minimalistic: the minimalistic variant (ReLU, 3x3 kernels, no squeeze-excite).

    Returns:
        The `keras.applications` model; its output is the last 1x1 conv (576 channels for
        Small) at stride 32.
    """
    weights = check_weights_argument(weights)
    application = _APPLICATIONS[size]
    try:
        backbone = application(
            input_shape=input_shape,
            include_top=False,
            weights=weights,
            include_preprocessing=True,
            minimalistic=minimalistic,
        )
    except Exception as error:  # a download or a weights file that does not fit
        if weights is None:
            raise  # nothing was loaded: the error is not about weights
        variant = f"{size}_minimalistic" if minimalistic else size
        weights_file = _WEIGHTS_FILE.format(variant=variant)
        if weights == "imagenet":
            raise UsageError(
                f"could not download the ImageNet weights of MobileNetV3-{size.title()}"
                f"{' minimalistic' if minimalistic else ''} "
                f"({type(error).__name__}); put {weights_file} in ~/.keras/models/, pass its "
                "path as the backbone weights, or use None to train from scratch"
            ) from error
        raise UsageError(
            f"could not load backbone weights from {weights}: {error}; it must be the "
            f"Keras file {weights_file} or weights saved from the same encoder"
        ) from error
    return backbone


def block_outputs(backbone: keras.Model) -> list[keras.KerasTensor]:
    """The stem's output, each inverted-residual block's output, then the last conv's."""
    layers = backbone.layers
    first_block = next(i for i, layer in enumerate(layers) if layer.name.startswith("expanded_conv"))
    outputs = {}
    for layer in layers[first_block:]:
        for suffix in ("_project_bn", "_add"):
            if layer.name.startswith("expanded_conv") and layer.name.endswith(suffix):
                outputs[layer.name.removesuffix(suffix)] = layer.output
    return [layers[first_block - 1].output, *outputs.values(), backbone.output]


def pyramid_features(backbone: keras.Model) -> dict[str, keras.KerasTensor]:
    """Features by stride: {"P1": stride 2, ..., "P5": stride 32}, the last block at each."""
    input_height = backbone.input.shape[1]
    features = {}
    for tensor in block_outputs(backbone):
        level = (input_height // tensor.shape[1]).bit_length() - 1
        features[f"P{level}"] = tensor
    return features
