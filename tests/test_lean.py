import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from helpers import random_images, run_model_saving_test
from keras_deconvnet import UsageError, build_model
from keras_deconvnet.models.lean import build_lean_deconvnet

# stage -> (height, width, channels) for a 64x96 input and 3 classes
STAGES_AT_64X96 = {
    "conv1": (32, 48, 16),
    "conv2": (16, 24, 16),
    "conv3": (8, 12, 24),
    "conv4": (4, 6, 48),
    "conv5": (2, 3, 576),
    "conv67": (2, 3, 128),
    "decoder_stage4": (4, 6, 96),
    "decoder_stage3": (8, 12, 64),
    "decoder_stage2": (16, 24, 32),
    "classifier": (16, 24, 3),
    "mask": (64, 96, 3),
}


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_lean_deconvnet(num_classes=3, input_shape=(64, 96, 3))


def test_stages_mirror_the_encoder_with_skips_at_strides_4_8_16(model):
    for name, shape in STAGES_AT_64X96.items():
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name
    for stage, skip in (("decoder_stage4", "conv4"), ("decoder_stage3", "conv3"), ("decoder_stage2", "conv2")):
        assert model.get_layer(stage).input[1].shape == model.get_layer(skip).output.shape
    upsamplers = [
        type(layer).__name__
        for stage in ("decoder_stage4", "decoder_stage3", "decoder_stage2")
        for layer in model.get_layer(stage).layers
        if isinstance(layer, (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D))
    ]
    assert upsamplers == ["Conv2DTranspose", "Conv2DTranspose", "UpSampling2D"]


@pytest.mark.slow
def test_tflite_float32_at_batch_1_has_builtin_ops_only_and_agrees_with_keras(model, tmp_path, rng):
    path = tmp_path / "lean.tflite"
    model.export(
        path,
        format="litert",
        input_signature=[keras.InputSpec(shape=(1, 64, 96, 3), dtype="float32")],
        verbose=False,
    )
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "TRANSPOSE_CONV" in ops
    assert not {op for op in ops if op.startswith("Flex") or op == "CUSTOM"}
    assert {"SHAPE", "PACK"}.isdisjoint(ops)  # batch 1 is fixed: no dynamic-shape ops

    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    agreement = []
    for image in random_images(rng, 4, 64, 96):
        interpreter.set_tensor(input_index, image[None])
        interpreter.invoke()
        tflite_logits = interpreter.get_tensor(output_index)
        keras_logits = model.predict_on_batch(image[None])
        agreement.append(np.mean(tflite_logits.argmax(-1) == keras_logits.argmax(-1)))
    assert np.mean(agreement) >= 0.999


@pytest.fixture(scope="module")
def context_model() -> keras.Model:
    return build_model("lean_context", num_classes=3, input_shape=(64, 96, 3))


def test_lean_context_widens_stride_8_with_residual_dilated_blocks(context_model, model):
    assert context_model.name == "lean_context"
    for name, shape in STAGES_AT_64X96.items():
        expected = (8, 12, 96) if name == "decoder_stage3" else shape
        assert tuple(context_model.get_layer(name).output.shape[1:]) == expected, name
    stage = context_model.get_layer("decoder_stage3")
    rates = [layer.dilation_rate[0] for layer in stage.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert rates == [1, 2, 4, 8, 16, 2, 4, 8]
    residuals = [layer for layer in stage.layers if layer.name.endswith("_residual")]
    assert len(residuals) == len(rates)
    lean_stage = model.get_layer("decoder_stage3")
    assert not [layer for layer in lean_stage.layers if layer.name.endswith("_residual")]


@pytest.mark.slow
def test_lean_context_saves_loads_and_resizes_by_its_name(context_model, tmp_path, rng):
    run_model_saving_test(context_model, tmp_path, rng, resize_to=(96, 128))


def test_lean_context_refuses_the_minimalistic_encoder():
    with pytest.raises(UsageError, match="lean_context"):
        build_lean_deconvnet(num_classes=3, input_shape=(64, 96, 3), minimalistic=True, context=True)
