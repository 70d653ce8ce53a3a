"""The original DeconvNet (Noh, Hong and Han, ICCV 2015): the paper's baseline.

A VGG16 encoder (13 convs, 5 max-pools that keep their switches), fc6 as a 7x7 conv to 4096,
fc7 as a 1x1 conv to 4096, deconv-fc6 back to 7x7x512, and a mirrored decoder that unpools
with the switches and deconvolves. Batch norm follows every conv and deconv, as in the paper.
About 252M parameters at 21 classes.
"""

import keras
from keras import layers

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models.backbone import check_weights_argument
from keras_deconvnet.models.deconvnet import deconv_bn_relu
from keras_deconvnet.models.layers import MaxPoolingWithSwitches, MaxUnpooling

# Conv widths of each stage; the decoder mirrors the encoder.
_ENCODER = {
    "conv1": (64, 64),
    "conv2": (128, 128),
    "conv3": (256, 256, 256),
    "conv4": (512, 512, 512),
    "conv5": (512, 512, 512),
}
_DECODER = {
    "deconv5": (512, 512, 512),
    "deconv4": (512, 512, 256),
    "deconv3": (256, 256, 128),
    "deconv2": (128, 64),
    "deconv1": (64, 64),
}
# keras.applications.VGG16's weights expect caffe-style BGR inputs minus this mean (RGB order).
_IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
_FC6_KERNEL = 7


def _conv_bn_relu(filters: int, name: str) -> list:
    return [
        layers.Conv2D(filters, 3, padding="same", name=name),
        layers.BatchNormalization(name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def _load_vgg16_weights(model: keras.Model, weights: str, input_shape) -> None:
    """Copies `keras.applications.VGG16` conv weights into the encoder, RGB-ordered."""
    try:
        vgg16 = keras.applications.VGG16(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as error:
        if weights == "imagenet":
            raise UsageError(
                f"could not download the ImageNet weights of VGG16 ({type(error).__name__}); put "
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 in ~/.keras/models/, pass its "
                "path as the backbone weights, or use None to train from scratch"
            ) from error
        raise UsageError(f"could not load VGG16 weights from {weights}: {error}") from error
    for stage_index, stage in enumerate(_ENCODER, 1):
        for conv_index in range(1, len(_ENCODER[stage]) + 1):
            name = f"block{stage_index}_conv{conv_index}"
            kernel, bias = vgg16.get_layer(name).get_weights()
            if name == "block1_conv1":
                kernel = kernel[:, :, ::-1, :]  # BGR -> RGB: the model takes RGB
            model.get_layer(stage).get_layer(name).set_weights([kernel, bias])


def build_deconvnet_vgg16(
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    backbone_weights: str | None = None,
) -> keras.Model:
    """Builds the original DeconvNet with a VGG16 encoder.

    The encoder's conv layers carry `keras.applications.VGG16`'s names (`block1_conv1`...),
    so its ImageNet weights load into them. The model normalises internally (the ImageNet
    mean is subtracted; the first conv's weights are flipped from BGR to RGB on loading),
    so inputs are RGB 0..255 like every model here.

    Args:
        num_classes: classes predicted per pixel.
        input_shape: (height, width, 3); height and width multiples of 32 and at least 224,
            since fc6 is a 7x7 conv over the stride-32 grid.
        backbone_weights: None, "imagenet" or a path to Keras VGG16 (no top) weights.

    Returns:
        A functional model from RGB 0..255 images to per-pixel logits at the input size.
    """
    backbone_weights = check_weights_argument(backbone_weights)
    height, width = input_shape[:2]
    if min(height, width) < 32 * _FC6_KERNEL:
        raise UsageError(
            f"deconvnet_vgg16 needs an input of at least 224x224 (fc6 is a 7x7 conv at stride "
            f"32), got {height}x{width}; use a larger --input-size or another model"
        )
    images = keras.Input(input_shape, name="image")
    x = layers.Normalization(mean=_IMAGENET_MEAN_RGB, variance=(1.0, 1.0, 1.0), name="preprocess")(images)
    switches = []
    for stage_index, (stage, widths) in enumerate(_ENCODER.items(), 1):
        x = keras.Sequential(
            [
                layer
                for conv_index, filters in enumerate(widths, 1)
                for layer in _conv_bn_relu(filters, f"block{stage_index}_conv{conv_index}")
            ],
            name=stage,
        )(x)
        x, stage_switches = MaxPoolingWithSwitches(name=f"pool{stage_index}")(x)
        switches.append(stage_switches)

    x = keras.Sequential(
        [
            layers.Conv2D(4096, _FC6_KERNEL, use_bias=False, name="fc6"),
            layers.BatchNormalization(name="fc6_bn"),
            layers.ReLU(name="fc6_relu"),
            layers.Conv2D(4096, 1, use_bias=False, name="fc7"),
            layers.BatchNormalization(name="fc7_bn"),
            layers.ReLU(name="fc7_relu"),
        ],
        name="conv67",
    )(x)
    x = keras.Sequential(
        deconv_bn_relu(512, 1, "deconv_fc6", kernel_size=_FC6_KERNEL, padding="valid"),
        name="deconv67",
    )(x)
    for stage_index, (stage, widths) in zip(range(5, 0, -1), _DECODER.items()):
        x = MaxUnpooling(name=f"unpool{stage_index}")(x, switches[stage_index - 1])
        x = keras.Sequential(
            [
                layer
                for index, filters in enumerate(widths, 1)
                for layer in deconv_bn_relu(filters, 1, f"{stage}_{index}")
            ],
            name=stage,
        )(x)
    logits = layers.Conv2D(num_classes, 1, dtype="float32", name="score")(x)
    model = keras.Model(images, logits, name="deconvnet_vgg16")
    if backbone_weights is not None:
        _load_vgg16_weights(model, backbone_weights, input_shape)
    return model
