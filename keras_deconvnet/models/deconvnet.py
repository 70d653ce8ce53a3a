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

Two ablations ask why this model stops at 40% mIoU (`code` and `skips` of the builder):
`paper_spatial` keeps conv67 and deconv67 on the conv5 grid (7x7 at 224: a 3x3 conv
instead of the global pool, deconv67 without the upsampling), and `paper_skips` adds to
it the encoder output of each stride into the decoder at that stride.
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

# With skips: decoder stage (deconv1_3 is the classifier) -> the encoder stage whose output
# is added to its input, on the same grid (conv5 and conv4 at 7x7, conv3 at 14x14, ...).
_SKIPS = {
    "deconv5": "conv5",
    "deconv4": "conv4",
    "deconv2": "conv3",
    "deconv1": "conv2",
    "deconv1_3": "conv1",
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


def add_skip(x: keras.KerasTensor, feature: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """Adds an encoder feature to the decoder's `x` on the same grid; a 1x1 conv and batch
    norm match the widths where they differ."""
    if feature.shape[-1] != x.shape[-1]:
        project = layers.Conv2D(x.shape[-1], 1, use_bias=False, name=f"{name}_skip_project")
        feature = project(feature)
        feature = layers.BatchNormalization(name=f"{name}_skip_project_bn")(feature)
    return layers.Add(name=f"{name}_skip")([x, feature])


def build_paper_deconvnet(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
    code: str = "vector",
    skips: bool = False,
    name: str = "paper",
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

    The defaults build Table I; `code` and `skips` build the ablations that lift its
    bottleneck. code="spatial" makes conv67's first conv 3x3 'same' on the conv5 grid (no
    pooling) and drops deconv67's upsampling, so the code keeps the grid (+4.7M parameters
    for the 3x3 kernel). DeconvNet's own 1x1 code works only because its unpooling switches
    bring the positions back, which this decoder lacks. skips=True adds the output of conv5
    and conv4 (7x7), conv3, conv2 and conv1 to the decoder input of the same grid, as FCN
    and U-Net do; the classifier then follows the conv1 skip, outside the deconv1 stage.

    Args:
        num_classes: classes predicted per pixel (21 for Pascal VOC).
        input_shape: (height, width, 3) with height and width multiples of 32.
        backbone_weights: None, "imagenet" or a path to MobileNetV3-Small weights.
        code: "vector" (Table I's 1x1x1000 code) or "spatial" (1000 channels on the conv5
            grid).
        skips: add encoder features into the decoder (see above).
        name: the model's name, its `build_model` name ("paper", "paper_spatial", ...).

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.

    Example:
        >>> model = build_paper_deconvnet(num_classes=21, input_shape=(224, 224, 3))
        >>> model.output.shape
        (None, 224, 224, 21)
    """
    if code not in ("vector", "spatial"):
        raise ValueError(f'code must be "vector" or "spatial", got {code!r}')
    backbone = build_mobilenet_v3(input_shape, "small", backbone_weights)
    images = keras.Input(input_shape, name="image")
    features = {}
    x = images
    for stage in encoder_stages(backbone, _ENCODER_STAGE_ENDS):
        x = features[stage.name] = stage(x)
    grid = x.shape[1:3]

    if code == "vector":
        fc6 = [
            layers.GlobalAveragePooling2D(keepdims=True, name="conv67_pool"),
            layers.Conv2D(1024, 1, activation="hard_swish", name="conv67_fc6"),
        ]
        upsample = [layers.UpSampling2D(grid, name="deconv67_upsample")]
    else:
        fc6 = [layers.Conv2D(1024, 3, padding="same", activation="hard_swish", name="conv67_fc6")]
        upsample = []
    fc7 = layers.Conv2D(1000, 1, activation="hard_swish", name="conv67_fc7")
    x = keras.Sequential([*fc6, fc7], name="conv67")(x)
    x = keras.Sequential([*upsample, *deconv_bn_relu(576, 1, "deconv67")], name="deconv67")(x)
    classifier = layers.Conv2DTranspose(num_classes, 3, padding="same", name="deconv1_3")
    for stage, specs in _DECODER_STAGES.items():
        if skips and stage in _SKIPS:
            x = add_skip(x, features[_SKIPS[stage]], stage)
        stage_layers = [
            layer
            for index, (filters, strides) in enumerate(specs, 1)
            for layer in deconv_bn_relu(filters, strides, f"{stage}_{index}")
        ]
        if stage == "deconv1" and not skips:
            stage_layers.append(classifier)
        x = keras.Sequential(stage_layers, name=stage)(x)
    if skips:
        x = classifier(add_skip(x, features[_SKIPS["deconv1_3"]], "deconv1_3"))
    logits = layers.UpSampling2D(2, interpolation="bilinear", dtype="float32", name="mask")(x)
    return keras.Model(images, logits, name=name)
