"""Peer heads on MobileNetV3: LR-ASPP (Howard et al., 2019) and a light ASPP (DeepLabV3).

These are the segmentation heads a user would pick instead of a DeconvNet decoder. Each model
is the encoder as named stages (LR-ASPP: `encoder_low`, input to stride 8, and
`encoder_high`, stride 8 to 32; ASPP: `encoder`), a head stage (`lraspp`, `aspp`) and the
`mask` (bilinear upsampling to the input size), so `scripts/summarize.py` reads stage by stage.

Stride: the MobileNetV3 paper (section 6.4) and DeepLabV3 remove the encoder's last stride
and dilate the blocks after it, so their high-level features are at stride 16.
`keras.applications.MobileNetV3` has no dilation option, so the heads here read the last
features at stride 32 (P5: 576 channels for Small, 960 for Large), the encoder unchanged and
its ImageNet weights usable as they are. What that costs is resolution of the high-level
branch: the LR-ASPP low-level branch at stride 8 adds the detail back, as in the paper.
"""

import keras
from keras import layers

from keras_deconvnet.models.backbone import block_outputs, build_mobilenet_v3, pyramid_features
from keras_deconvnet.models.deconvnet import encoder_stages

# Inner width of both heads: torchvision's LR-ASPP uses 128 (as the MobileNetV3 paper).
_HEAD_CHANNELS = 128
# DeepLabV3's ASPP rates (6, 12, 18) are for stride 16; halved at stride 32 so that each
# branch covers the same fraction of the image.
_ASPP_RATES = (3, 6, 9)


def encoder_by_level(backbone: keras.Model, stage_levels: dict[str, int]) -> list[keras.Model]:
    """Cuts an encoder into consecutive sub-models that end at the given pyramid levels.

    Args:
        backbone: a `keras.applications` MobileNetV3 from `build_mobilenet_v3`.
        stage_levels: stage name -> pyramid level (1: stride 2 ... 5: stride 32), ascending.

    Returns:
        The sub-models, in order; each takes the previous one's output. They share the
        backbone's layers, so its weights come along.

    Example:
        >>> low, high = encoder_by_level(backbone, {"encoder_low": 3, "encoder_high": 5})
    """
    taps = block_outputs(backbone)
    pyramid = pyramid_features(backbone)
    ends = {
        name: next(i for i, tap in enumerate(taps) if tap is pyramid[f"P{level}"])
        for name, level in stage_levels.items()
    }
    return encoder_stages(backbone, ends)


def conv_bn_relu(
    x: keras.KerasTensor, filters: int, name: str, kernel_size: int = 1
) -> keras.KerasTensor:
    """A bias-free conv, batch norm and ReLU, the unit every head here is made of."""
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_conv_bn_relu(
    x: keras.KerasTensor, filters: int, name: str, dilation_rate: int = 1
) -> keras.KerasTensor:
    """A 3x3 depthwise conv and a 1x1 pointwise conv, each with batch norm and ReLU."""
    x = layers.DepthwiseConv2D(
        3, padding="same", dilation_rate=dilation_rate, use_bias=False, name=f"{name}_depthwise"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(name=f"{name}_depthwise_relu")(x)
    return conv_bn_relu(x, filters, f"{name}_pointwise")


def context_gate(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """LR-ASPP's high-level branch: a 1x1 conv-BN-ReLU scaled by a global-context gate.

    The gate is a global average pool, a 1x1 conv with bias and a sigmoid (no batch norm,
    so it is well defined at any batch size), one weight per channel for the whole image.

    Args:
        x: high-level features.
        filters: output channels.
        name: prefix of the layer names.

    Returns:
        The gated features, `filters` channels at the resolution of `x`.
    """
    features = conv_bn_relu(x, filters, f"{name}_conv")
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    gate = layers.Conv2D(filters, 1, activation="sigmoid", name=f"{name}_gate")(gate)
    return layers.Multiply(name=f"{name}_scale")([features, gate])


def upsample_to_input(logits: keras.KerasTensor, input_height: int) -> keras.KerasTensor:
    """The `mask` layer: bilinear upsampling of logits to the input size, in float32."""
    factor = input_height // logits.shape[1]
    mask = layers.UpSampling2D(factor, interpolation="bilinear", dtype="float32", name="mask")
    return mask(logits)


def _lraspp_head(low_shape: tuple, high_shape: tuple, num_classes: int) -> keras.Model:
    low = keras.Input(low_shape, name="low")
    high = keras.Input(high_shape, name="high")
    x = context_gate(high, _HEAD_CHANNELS, "lraspp_high")
    x = layers.UpSampling2D(
        low_shape[0] // high_shape[0], interpolation="bilinear", name="lraspp_upsample"
    )(x)
    x = layers.Conv2D(num_classes, 1, name="lraspp_high_classifier")(x)
    y = layers.Conv2D(num_classes, 1, name="lraspp_low_classifier")(low)
    return keras.Model([low, high], layers.Add(name="lraspp_logits")([x, y]), name="lraspp")


def _build_lraspp(
    size: str, num_classes: int, input_shape: tuple[int, int, int], backbone_weights: str | None
) -> keras.Model:
    backbone = build_mobilenet_v3(input_shape, size, backbone_weights)
    encoder_low, encoder_high = encoder_by_level(backbone, {"encoder_low": 3, "encoder_high": 5})
    images = keras.Input(input_shape, name="image")
    low = encoder_low(images)
    high = encoder_high(low)
    head = _lraspp_head(low.shape[1:], high.shape[1:], num_classes)
    logits = upsample_to_input(head([low, high]), input_shape[0])
    return keras.Model(images, logits, name=f"lraspp_{size}")


def build_lraspp_small(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds LR-ASPP on MobileNetV3-Small (about 1.1M parameters at 21 classes).

    LR-ASPP, the segmentation head of "Searching for MobileNetV3" (Howard et al., ICCV 2019,
    section 6.4), laid out as torchvision's `lraspp_mobilenet_v3_large`: the stride-32
    features (576 channels) through a 1x1 conv to 128 + BN + ReLU, multiplied by a gate
    (global average pool, 1x1 conv, sigmoid), upsampled bilinearly to stride 8, a 1x1 conv to
    the classes; plus the stride-8 features (24 channels) through a 1x1 conv to the classes;
    the sum upsampled bilinearly to the input size. The gate pools globally, as torchvision
    does, rather than the paper's 49x49 window, so the model works at any input size. The
    high-level features are at stride 32, not 16 (see the module docstring).

    Args:
        num_classes: classes predicted per pixel.
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Small weights.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_lraspp_small(num_classes=11, input_shape=(352, 480, 3))
        >>> model.output.shape
        (None, 352, 480, 11)
    """
    return _build_lraspp("small", num_classes, input_shape, backbone_weights)


def build_lraspp_large(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds LR-ASPP on MobileNetV3-Large (about 3.2M parameters at 21 classes).

    The same head as `build_lraspp_small`, on the encoder torchvision pairs it with: the
    stride-32 features have 960 channels, the stride-8 ones 40.

    Args:
        num_classes: classes predicted per pixel.
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Large weights.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_lraspp_large(num_classes=21)
        >>> model.output.shape
        (None, 224, 224, 21)
    """
    return _build_lraspp("large", num_classes, input_shape, backbone_weights)


def _aspp_head(high_shape: tuple, num_classes: int) -> keras.Model:
    high = keras.Input(high_shape, name="high")
    branches = [conv_bn_relu(high, _HEAD_CHANNELS, "aspp_conv1x1")]
    for rate in _ASPP_RATES:
        branches.append(separable_conv_bn_relu(high, _HEAD_CHANNELS, f"aspp_rate{rate}", rate))
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(high)
    pooled = layers.Conv2D(_HEAD_CHANNELS, 1, activation="relu", name="aspp_pool_conv")(pooled)
    broadcast = layers.UpSampling2D(high_shape[:2], interpolation="bilinear", name="aspp_pool_upsample")
    branches.append(broadcast(pooled))
    x = layers.Concatenate(name="aspp_concat")(branches)
    x = conv_bn_relu(x, _HEAD_CHANNELS, "aspp_project")
    x = conv_bn_relu(x, _HEAD_CHANNELS, "aspp_refine", kernel_size=3)
    logits = layers.Conv2D(num_classes, 1, name="aspp_classifier")(x)
    return keras.Model(high, logits, name="aspp")


def build_aspp_small(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds a light DeepLabV3 ASPP head on MobileNetV3-Small (about 1.6M parameters).

    The DeepLabV3 head (Chen et al., 2017) as torchvision's `DeepLabHead`: on the stride-32
    features, a 1x1 conv, three atrous 3x3 convs (rates 3, 6, 9: DeepLabV3's 6, 12, 18
    halved for stride 32) and image pooling (global pool, 1x1 conv, broadcast back), all to
    128 channels, concatenated, a 1x1 projection, a 3x3 conv and a 1x1 conv to the classes,
    upsampled bilinearly to the input size. Two changes keep it light: 128 channels instead
    of 256, and the atrous convs are depthwise-separable as in DeepLabV3+ (Chen et al., 2018),
    which saves 2M parameters over full 3x3 convs from 576 channels. The pooling branch has
    a bias instead of batch norm, which is undefined on one 1x1 map at batch size 1.

    Args:
        num_classes: classes predicted per pixel.
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Small weights.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_aspp_small(num_classes=11, input_shape=(352, 480, 3))
        >>> model.output.shape
        (None, 352, 480, 11)
    """
    backbone = build_mobilenet_v3(input_shape, "small", backbone_weights)
    (encoder,) = encoder_by_level(backbone, {"encoder": 5})
    images = keras.Input(input_shape, name="image")
    high = encoder(images)
    logits = _aspp_head(high.shape[1:], num_classes)(high)
    return keras.Model(images, upsample_to_input(logits, input_shape[0]), name="aspp_small")
