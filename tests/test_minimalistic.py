"""`lean_minimalistic`: lean on the minimalistic MobileNetV3-Small, with no hard-swish op."""

import keras
import pytest
from ai_edge_litert.interpreter import Interpreter

from helpers import run_model_saving_test
from keras_deconvnet import UsageError, build_model
from keras_deconvnet.models import all_layers, fits


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model("lean_minimalistic", num_classes=3, input_shape=(64, 96, 3))


@pytest.fixture(scope="module")
def lean() -> keras.Model:
    return build_model("lean", num_classes=3, input_shape=(64, 96, 3))


def hard_swish_and_squeeze_excite(model: keras.Model) -> list[str]:
    """Names of the layers that are a hard-swish activation or part of a squeeze-excite."""
    return [
        layer.name
        for layer in all_layers(model)
        if "squeeze_excite" in layer.name
        or getattr(getattr(layer, "activation", None), "__name__", "") in ("hard_silu", "hard_swish", "hard_sigmoid")
    ]


def test_is_lean_with_the_same_stages_on_another_encoder(model, lean):
    assert model.name == "lean_minimalistic"
    assert model.output.shape == (None, 64, 96, 3)
    stages = [layer.name for layer in model.layers]
    assert stages == [layer.name for layer in lean.layers]
    for stage in stages[1:]:
        assert model.get_layer(stage).output.shape == lean.get_layer(stage).output.shape, stage
    assert not fits(model, lean)  # 3x3 kernels and no squeeze-excite: other weights
    assert model.count_params() < lean.count_params()


def test_graph_has_no_hard_swish_and_no_squeeze_excite(model, lean):
    assert hard_swish_and_squeeze_excite(lean)  # the check finds them where they are
    assert hard_swish_and_squeeze_excite(model) == []
    multiplies = [layer.name for layer in all_layers(model) if isinstance(layer, keras.layers.Multiply)]
    assert multiplies == ["conv67_scale"]


@pytest.mark.slow
def test_tflite_graph_has_no_hard_swish_op(model, tmp_path):
    path = tmp_path / "lean_minimalistic.tflite"
    model.export(
        path,
        format="litert",
        input_signature=[keras.InputSpec(shape=(1, 64, 96, 3), dtype="float32")],
        verbose=False,
    )
    interpreter = Interpreter(model_path=str(path))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    # lean's ops less HARD_SWISH (ReLU is fused into the convs), all in XNNPACK's int8 set
    assert ops == {
        "ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "LOGISTIC", "MEAN", "MUL", "RESIZE_BILINEAR", "TRANSPOSE_CONV"
    }


@pytest.mark.slow
def test_keras_file_round_trip_then_resize(model, tmp_path, rng):
    run_model_saving_test(model, tmp_path, rng, resize_to=(96, 64))


def test_imagenet_error_names_the_minimalistic_weights_file(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(UsageError, match="weights_mobilenet_v3_small_minimalistic_224_1.0_float_no_top_v2.h5"):
        build_model("lean_minimalistic", input_shape=(64, 64, 3), backbone_weights="imagenet")
