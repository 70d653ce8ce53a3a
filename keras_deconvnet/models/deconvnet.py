"""The paper's model: DeconvNet with a MobileNetV3-Small encoder (Table I).

Renaud and Nivelet Etcheberry, "Improving Efficiency of DeconvNet without sacrificing
accuracy" (see the README for the reference). Every row of Table I is a named stage, so
`model.summary()` reads like the table:

| stage    | output at 224 | composition                                                |
|----------|---------------|------------------------------------------------------------|
| conv1    | 112x112x16    | MobileNetV3-Small stem (3x3 conv, stride 2)                |
| conv2    | 28x28x24      | inverted residual blocks 0-2                               |
| conv3    | 14x14x40      | blocks 3-5                                                 |
| conv4    | 7x7x96        | blocks 6-8                                                 |
| conv5    | 7x7x576       | blocks 9-10 and the 1x1 conv to 576                        |
| conv67   | 1x1x1000      | global pool, 1x1 conv to 1024, 1x1 conv to 1000            |
| deconv67 | 7x7x576       | upsample to the conv5 grid, 3x3 transposed conv            |
| deconv5  | 7x7x96        | 3 transposed convs: 576, 96, 96                            |
| deconv4  | 7x7x40        | 3 transposed convs: 96, 96, 40                             |
| deconv3  | 14x14x24      | 3 transposed convs: 40 (stride 2), 40, 24                  |
| deconv2  | 28x28x16      | 3 transposed convs: 24 (stride 2), 24, 16                  |
| deconv1  | 112x112xC     | 3 transposed convs: 16 (stride 2), 16 (stride 2), C logits |
| mask     | 224x224xC     | bilinear x2 of deconv1                                     |
"""

import keras
from keras import layers

from keras_deconvnet.models.backbone import block_outputs, build_mobilenet_v3

# Where each encoder stage ends, as an index into `block_outputs` (stem, blocks 0-10, last
# conv): Table I gives each stage three inverted residuals; conv5's third is the 1x1 conv.
_ENCODER_STAGE_ENDS = {"conv1": 0, "conv2": 3, "conv3": 6, "conv4": 9, "conv5": 12}

# (filters, strides) of each 3x3 transposed conv; deconv1's last layer is the classifier.
_DECODER_STAGES = {
    "deconv5": ((576, 1), (96, 1), (96, 1)),
    "deconv4": ((96, 1), (96, 1), (40, 1)),
    "deconv3": ((40, 2), (40, 1), (24, 1)),
    "deconv2": ((24, 2), (24, 1), (16, 1)),
    "deconv1": ((16, 2), (16, 2)),
}


def deconv_bn_relu(
    filters: int, strides: int, name: str, kernel_size: int = 3, padding: str = "same"
) -> list:
    """A transposed conv, batch norm and ReLU, as every DeconvNet decoder layer is."""
    return [
        layers.Conv2DTranspose(
            filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
        ),
        layers.BatchNormalization(name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def encoder_stages(backbone: keras.Model, stage_ends: dict[str, int]) -> list[keras.Model]:
    """Cuts a `keras.applications` encoder into consecutive named sub-models.

    The sub-models share the backbone's layers, so pretrained weights come along.
    """
    taps = block_outputs(backbone)
    starts = [backbone.input] + [taps[end] for end in stage_ends.values()]
    return [
        keras.Model(start, taps[end], name=name)
        for (name, end), start in zip(stage_ends.items(), starts)
    ]


def build_paper_deconvnet(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds the paper's DeconvNet with a MobileNetV3-Small encoder (about 11.6M parameters).

    Table I fixes each stage's output shape but not how Conv67 reaches 1x1 nor the kernel
    sizes. The choices, and why:

    - conv67 is MobileNetV3-Small's own classification head (global average pool, 1x1 conv
      to 1024 with hard-swish, 1x1 conv to 1000): Table I's "1 Conv2d + 1 Conv2d" ending in
      1000 channels at 1x1 is exactly that head, and pooling works at any input size.
    - deconv67 upsamples the 1x1 code to the conv5 grid (nearest) and applies a 3x3
      transposed conv to 576. DeconvNet's 7x7 deconv-fc6 from 1000 channels would cost 28.2M
      parameters alone, more than twice the paper's whole model, and the paper says it cut
      these kernels (section V.B). The price: past conv67 the decoder gets no spatial
      information except what zero padding gives at the borders. This is Table I's
      bottleneck (no switches, no skips), and a likely reason for the paper's 40% mIoU.
    - Decoder stages mirror the encoder with three 3x3 transposed convs each, batch norm
      and ReLU after each, as DeconvNet does; the channel widths (576, 96, 96 in deconv5,
      then narrowing) put the total at about 11.6M, near the paper's 12M.
    - The mask is deconv1's logits resized x2 bilinearly, in float32 (mixed precision
      stays stable).

    Args:
        num_classes: classes predicted per pixel (21 for Pascal VOC).
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Small weights.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_paper_deconvnet(num_classes=21, input_shape=(224, 224, 3))
        >>> model.output.shape
        (None, 224, 224, 21)
    """
    backbone = build_mobilenet_v3(input_shape, "small", backbone_weights)
    images = keras.Input(input_shape, name="image")
    x = images
    for stage in encoder_stages(backbone, _ENCODER_STAGE_ENDS):
        x = stage(x)
    grid = x.shape[1:3]

    x = keras.Sequential(
        [
            layers.GlobalAveragePooling2D(keepdims=True, name="conv67_pool"),
            layers.Conv2D(1024, 1, activation="hard_swish", name="conv67_fc6"),
            layers.Conv2D(1000, 1, activation="hard_swish", name="conv67_fc7"),
        ],
        name="conv67",
    )(x)
    x = keras.Sequential(
        [layers.UpSampling2D(grid, name="deconv67_upsample"), *deconv_bn_relu(576, 1, "deconv67")],
        name="deconv67",
    )(x)
    for stage, specs in _DECODER_STAGES.items():
        stage_layers = [
            layer
            for index, (filters, strides) in enumerate(specs, 1)
            for layer in deconv_bn_relu(filters, strides, f"{stage}_{index}")
        ]
        if stage == "deconv1":
            stage_layers.append(
                layers.Conv2DTranspose(num_classes, 3, padding="same", name="deconv1_3")
            )
        x = keras.Sequential(stage_layers, name=stage)(x)
    logits = layers.UpSampling2D(2, interpolation="bilinear", dtype="float32", name="mask")(x)
    return keras.Model(images, logits, name="paper")
