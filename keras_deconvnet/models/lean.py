"""Lean DeconvNet: the paper's transposed-conv decoder, spent where the accuracy is.

The paper's model (`deconvnet.py`) spends 10.6M of its 11.6M parameters on a decoder that
starts from a 1x1x1000 code, so nothing spatial survives Conv67. This variant keeps the
DeconvNet shape (MobileNetV3-Small encoder, a transposed-conv decoder mirroring it stage by
stage) but gives each decoder stage the encoder features of its resolution, and replaces the
1x1 code by a context gate that keeps the stride-32 grid. The encoder is cut where the stride
changes (Table I cuts it by blocks, so its conv2 ends at stride 8), so that each stage's
output is the skip of its resolution.

| stage          | output at 224 | composition                                          |
|----------------|---------------|------------------------------------------------------|
| conv1          | 112x112x16    | MobileNetV3-Small stem (stride 2)                    |
| conv2          | 56x56x16      | block 0 (stride 4)                                   |
| conv3          | 28x28x24      | blocks 1-2 (stride 8)                                |
| conv4          | 14x14x48      | blocks 3-7 (stride 16)                               |
| conv5          | 7x7x576       | blocks 8-10 and the 1x1 conv to 576 (stride 32)      |
| conv67         | 7x7x128       | 1x1 conv-BN-ReLU times a global-pool sigmoid gate    |
| decoder_stage4 | 14x14x96      | 2x2 transposed conv + conv4 skip, 2 separable blocks |
| decoder_stage3 | 28x28x64      | 2x2 transposed conv + conv3 skip, 3 separable blocks |
| decoder_stage2 | 56x56x32      | 1x1 conv, bilinear x2 + conv2 skip, 1 separable block|
| classifier     | 56x56xC       | 1x1 conv to the classes                              |
| mask           | 224x224xC     | bilinear x4                                          |

A skip is a 1x1 conv and batch norm of the encoder features, added to the upsampled ones;
a separable block is a 3x3 depthwise conv and a 1x1 conv, each with batch norm and ReLU.

`lean_minimalistic` is the same model on the minimalistic MobileNetV3-Small (ReLU, 3x3
kernels, no squeeze-excite; 0.71M parameters instead of 1.21M at 352x480 with 11 classes):
with the decoder's ReLU and sigmoid, its graph has no hard-swish, so an int8 XNNPACK delegate
takes it whole.

`lean_context` widens decoder_stage3 (stride 8) to 96 channels and refines it with eight
residual dilated separable blocks (rates 1, 2, 4, 8, 16, 2, 4, 8) instead of three plain
ones: the stride-8 feature map with a receptive field as large as the image that DABNet and
CGNet, CamVid's from-scratch models, are built around. The blocks are residual so that the
deeper stack trains from scratch.
"""

import keras
from keras import layers

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models.backbone import build_mobilenet_v3
from keras_deconvnet.models.heads import (
    context_gate,
    encoder_by_level,
    separable_conv_bn_relu,
    upsample_to_input,
)

# Encoder stages as Table I names them, each ending at a pyramid level (stride 2 ** level).
_ENCODER_LEVELS = {"conv1": 1, "conv2": 2, "conv3": 3, "conv4": 4, "conv5": 5}
_CONTEXT_CHANNELS = 128
# decoder stage -> (encoder stage read as its skip, channels, dilation rate of each
# separable block, how it upsamples x2).
_DECODER_STAGES = {
    "decoder_stage4": ("conv4", 96, (1, 2), "deconv"),
    "decoder_stage3": ("conv3", 64, (1, 2, 4), "deconv"),
    "decoder_stage2": ("conv2", 32, (1,), "bilinear"),
}
# lean_context's decoder_stage3: (channels, dilation rate of each residual block).
_CONTEXT_STAGE3 = (96, (1, 2, 4, 8, 16, 2, 4, 8))


def _context_stage(features_shape: tuple) -> keras.Model:
    features = keras.Input(features_shape, name="conv67_input")
    return keras.Model(features, context_gate(features, _CONTEXT_CHANNELS, "conv67"), name="conv67")


def _upsample(x: keras.KerasTensor, filters: int, mode: str, name: str) -> keras.KerasTensor:
    """x2 to `filters` channels: a 2x2 stride-2 transposed conv ("deconv"), or a 1x1 conv
    at the input resolution then bilinear x2 ("bilinear"); batch norm either way. The
    names `NAME_deconv` and `NAME_deconv_bn` are how `deploy_model` finds what it folds."""
    if mode == "deconv":
        x = layers.Conv2DTranspose(filters, 2, strides=2, use_bias=False, name=f"{name}_deconv")(x)
        return layers.BatchNormalization(name=f"{name}_deconv_bn")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = layers.BatchNormalization(name=f"{name}_project_bn")(x)
    return layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_upsample")(x)


def _decoder_stage(
    x_shape: tuple,
    skip_shape: tuple,
    filters: int,
    rates: tuple[int, ...],
    upsampling: str,
    name: str,
    residual: bool = False,
) -> keras.Model:
    """Upsamples `x` x2, adds the projected skip, refines with separable blocks (each added
    to its input if `residual`)."""
    x = keras.Input(x_shape, name=f"{name}_input")
    skip = keras.Input(skip_shape, name=f"{name}_skip_input")
    up = _upsample(x, filters, upsampling, name)
    lateral = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_skip")(skip)
    lateral = layers.BatchNormalization(name=f"{name}_skip_bn")(lateral)
    y = layers.Add(name=f"{name}_merge")([up, lateral])
    y = layers.ReLU(name=f"{name}_merge_relu")(y)
    for index, rate in enumerate(rates, 1):
        block = separable_conv_bn_relu(y, filters, f"{name}_block{index}", dilation_rate=rate)
        y = layers.Add(name=f"{name}_block{index}_residual")([y, block]) if residual else block
    return keras.Model([x, skip], y, name=name)


def build_lean_deconvnet(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
    minimalistic: bool = False,
    context: bool = False,
) -> keras.Model:
    """Builds the lean DeconvNet on MobileNetV3-Small (about 1.2M parameters).

    What each choice buys (`scripts/benchmark.py` measures the latency of the whole model):

    - Skips from conv2, conv3 and conv4 (strides 4, 8 and 16): the decoder reads the
      encoder's spatial detail instead of rebuilding it from the paper's 1x1x1000 code,
      a likely reason for its 40% mIoU. Strides 4 and 8 carry CamVid's thin classes
      (poles, signs, pedestrians); FPN, U-Net and DeepLabV3+ decode the same way.
    - conv67 is LR-ASPP's context gate at stride 32 (1x1 conv to 128, scaled by global
      pool, 1x1 conv, sigmoid): the image-level context Conv67 was meant to give, without
      the bottleneck; 0.15M parameters.
    - 2x2 stride-2 transposed convs upsample from stride 32 to 16 and 16 to 8, the
      paper's learned upsampling where the channels are many and the grid small (U-Net's
      up-conv: no overlapping kernels, so no checkerboard). From stride 8 to 4 the same
      projection runs as a 1x1 conv at stride 8, then bilinear x2: a quarter of the
      multiply-adds; a transposed conv there cost 0.1 ms more (0.46 ms at 352x480).
    - Depthwise-separable 3x3 blocks refine each stage, about 1/8 of a full 3x3 conv at
      these widths. They are placed by cost: 2 at stride 16, 3 at stride 8 (the stage
      that decides most of CamVid's classes), 1 at stride 4 (each block there costs
      0.07 ms). The depthwise convs at stride 16 and 8 are dilated (rates 2 and 4), which
      widens the receptive field at no cost in parameters or measured latency, the device
      of the from-scratch CamVid models CGNet and DABNet (65-66% mIoU).
    - Widths 96, 64 and 32 narrow with the resolution, as the encoder's do; 24 channels
      at stride 4 would save about 1% of the latency for a quarter of its features.
    - Batch norm after every conv (folded into the convs by the TFLite converter), ReLU in
      the decoder (every decoder op type is delegated to XNNPACK in float32 and int8).
    - Logits at stride 4, bilinear x4 to the input: the upsampling to 224x224x21 is
      already the largest single cost; a stride-2 stage with a conv1 skip would add 0.5 ms
      at 16 channels (even a linear conv1 term 0.3 ms), past 2x the encoder's latency.

    The decoder and conv67 hold 0.27M parameters, so the model is far under 3M: the
    budget that binds is latency, and a small decoder trained from scratch on CamVid's
    367 training images also has less to overfit.

    Args:
        num_classes: classes predicted per pixel (11 for CamVid; its void label is ignored).
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Small weights (of the
            minimalistic variant if `minimalistic`).
        minimalistic: encode with the minimalistic MobileNetV3-Small; the model is then
            named "lean_minimalistic" (its `build_model` name), else "lean".
        context: the wider, deeper dilated stride-8 stage of `lean_context` (the model's
            name then); not with `minimalistic`.

    Raises:
        UsageError: both `context` and `minimalistic`.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_lean_deconvnet(num_classes=11, input_shape=(352, 480, 3))
        >>> model.output.shape
        (None, 352, 480, 11)
    """
    if context and minimalistic:
        raise UsageError("lean_context is built on the hard-swish encoder; pass minimalistic=False")
    backbone = build_mobilenet_v3(input_shape, "small", backbone_weights, minimalistic)
    images = keras.Input(input_shape, name="image")
    features = {}
    x = images
    for stage in encoder_by_level(backbone, _ENCODER_LEVELS):
        x = features[stage.name] = stage(x)

    x = _context_stage(x.shape[1:])(x)
    decoder_stages = dict(_DECODER_STAGES)
    if context:
        filters, rates = _CONTEXT_STAGE3
        decoder_stages["decoder_stage3"] = ("conv3", filters, rates, "deconv")
    for name, (skip_stage, filters, rates, upsampling) in decoder_stages.items():
        skip = features[skip_stage]
        residual = context and name == "decoder_stage3"
        stage = _decoder_stage(x.shape[1:], skip.shape[1:], filters, rates, upsampling, name, residual)
        x = stage([x, skip])
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    name = "lean_context" if context else "lean_minimalistic" if minimalistic else "lean"
    return keras.Model(images, upsample_to_input(x, input_shape[0]), name=name)
