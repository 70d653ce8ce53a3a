"""The deploy form TFLite is converted from: the same function, transposed convs folded away."""

import keras
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as tflite_schema
from keras import layers

from keras_deconvnet.export import convert_tflite
from keras_deconvnet.models import build_model
from keras_deconvnet.models.deploy import Folded, PixelShuffleConv, deploy_model, int8_hard_swish

SHAPE = (64, 96, 3)


def with_random_batch_norms(model: keras.Model, seed: int = 1) -> keras.Model:
    """Gives every batch norm statistics far from the identity it starts as, so folding shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            with_random_batch_norms(layer, seed + 1)
        elif isinstance(layer, layers.BatchNormalization):
            random = {
                "gamma": lambda shape: rng.uniform(0.5, 1.5, shape), "beta": lambda shape: rng.normal(0, 0.3, shape),
                "moving_mean": lambda shape: rng.normal(0, 0.3, shape),
                "moving_variance": lambda shape: rng.uniform(0.5, 2.0, shape),
            }
            layer.set_weights([random[weight.name](weight.shape) for weight in layer.weights])
    return model


def all_layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def hard_swish_layers(model: keras.Model) -> list[str]:
    return [layer.name for layer in all_layers(model) if getattr(layer, "activation", None) is keras.activations.hard_silu]


def tflite_op_names(content: bytes) -> set[str]:
    names = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items() if not name.startswith("_")}
    model = tflite_schema.Model.GetRootAs(content, 0)
    codes = (model.OperatorCodes(index) for index in range(model.OperatorCodesLength()))
    return {names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())] for code in codes}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lean", "lean_minimalistic"])
def test_the_deploy_form_computes_the_same_logits(name):
    model = with_random_batch_norms(build_model(name, num_classes=5, input_shape=SHAPE))
    deployed = deploy_model(model)
    kinds = [type(layer) for layer in all_layers(deployed)]
    assert kinds.count(PixelShuffleConv) == 2 and kinds.count(Folded) == 2  # decoder stages 4 and 3
    assert layers.Conv2DTranspose not in kinds
    images = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(deployed.predict(images, verbose=0), expected, atol=1e-4 * np.abs(expected).max())


def test_the_deploy_form_keeps_the_layers_policy_under_a_global_mixed_one():
    model = build_model("lean_minimalistic", num_classes=5, input_shape=SHAPE)  # float32
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        deployed = deploy_model(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    new = [layer for layer in all_layers(deployed) if isinstance(layer, (PixelShuffleConv, Folded))]
    assert len(new) == 4 and {layer.dtype_policy.compute_dtype for layer in new} == {"float32"}


@pytest.mark.parametrize("center, scale", [(False, False), (True, False), (False, True)])
def test_a_batch_norm_without_offset_or_scale_folds_too(center, scale):
    inputs = keras.Input((4, 6, 3))
    x = layers.Conv2DTranspose(5, 2, strides=2, use_bias=False, name="up_deconv")(inputs)
    x = layers.BatchNormalization(center=center, scale=scale, name="up_deconv_bn")(x)
    x = layers.Conv2DTranspose(4, 3, padding="same", name="head_deconv")(x)  # 3x3: left as it is
    model = with_random_batch_norms(keras.Model(inputs, x))
    deployed = deploy_model(model)
    assert [type(layer).__name__ for layer in deployed.layers[1:]] == ["PixelShuffleConv", "Folded", "Conv2DTranspose"]
    values = np.random.default_rng(0).normal(size=(2, 4, 6, 3)).astype("float32")
    np.testing.assert_allclose(deployed.predict(values, verbose=0), model.predict(values, verbose=0), atol=1e-5)


def test_a_batch_norm_that_does_not_alone_follow_the_transposed_conv_is_not_folded():
    inputs = keras.Input((4, 6, 3))
    up = layers.Conv2DTranspose(5, 2, strides=2, use_bias=False, name="up_deconv")(inputs)
    normed = layers.BatchNormalization(name="up_deconv_bn")(up)
    also_read = keras.Model(inputs, layers.Add()([normed, up]))  # the raw output is read too
    assert deploy_model(also_read) is also_read
    relu_between = keras.Model(inputs, layers.BatchNormalization(name="x_deconv_bn")(layers.ReLU()(
        layers.Conv2DTranspose(5, 2, strides=2, use_bias=False, name="x_deconv")(inputs))))
    assert deploy_model(relu_between) is relu_between


def test_a_model_without_a_foldable_transposed_conv_is_returned_as_it_is():
    model = build_model("lraspp_small", num_classes=5, input_shape=SHAPE)
    assert deploy_model(model) is model


@pytest.mark.slow
def test_tflite_files_have_depth_to_space_where_the_transposed_convs_were():
    model = build_model("lean_minimalistic", num_classes=5, input_shape=SHAPE)
    images = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
    for dtype, content in convert_tflite(model, ("float32", "int8"), images).items():
        ops = tflite_op_names(content)
        assert "DEPTH_TO_SPACE" in ops and "TRANSPOSE_CONV" not in ops, dtype


@pytest.mark.slow
def test_the_int8_deploy_form_writes_hard_swish_as_other_ops_with_the_same_logits():
    model = with_random_batch_norms(build_model("lean", num_classes=5, input_shape=SHAPE))
    assert hard_swish_layers(model) and hard_swish_layers(deploy_model(model)) == hard_swish_layers(model)
    deployed = deploy_model(model, int8=True)
    assert hard_swish_layers(deployed) == []
    assert [layer.name for layer in all_layers(deployed) if getattr(layer, "activation", None) is int8_hard_swish]
    images = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(deployed.predict(images, verbose=0), expected, atol=1e-4 * np.abs(expected).max())


def test_a_conv_with_hard_swish_keeps_its_weights_in_the_int8_form():
    inputs = keras.Input((8, 8, 3))
    conv = layers.Conv2D(4, 3, padding="same", activation="hard_swish", name="fc6")
    model = keras.Model(inputs, conv(inputs))
    assert deploy_model(model) is model  # the float form has nothing to replace
    deployed = deploy_model(model, int8=True)
    copy = deployed.get_layer("fc6")
    assert copy is not conv and copy.activation is int8_hard_swish
    values = np.random.default_rng(0).normal(0, 3, (2, 8, 8, 3)).astype("float32")  # across -3..3, the bends
    np.testing.assert_allclose(deployed.predict(values, verbose=0), model.predict(values, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_int8_tflite_files_have_no_hard_swish_op():
    model = build_model("lean", num_classes=5, input_shape=SHAPE)
    images = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
    files = convert_tflite(model, ("float32", "int8"), images)
    assert "HARD_SWISH" in tflite_op_names(files["float32"])  # XNNPACK runs it in float32
    assert "HARD_SWISH" not in tflite_op_names(files["int8"])
