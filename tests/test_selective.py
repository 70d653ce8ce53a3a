"""Selective int8 quantisation (`--int8-float-layers`): the named stage stays float32, the
rest int8, on a 32x32 model of three classes whose middle stage is a nested residual model."""

import json

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from helpers import load_script, random_images, synthetic_dataset_images

from keras_deconvnet import UsageError
from keras_deconvnet.export import convert_tflite, export_model, load_predictor
from keras_deconvnet.export.selective import tensors_of_layers

SIZE, CLASSES = 32, 3


def staged_model() -> keras.Model:
    """stem conv -> "stage" (a nested conv with a residual add, and a ReLU named as tracing
    would suffix its conv's scope) -> classifier."""
    images = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(keras.layers.Rescaling(1 / 255)(images))
    stage_input = keras.Input((SIZE, SIZE, 8))
    refined = keras.layers.Conv2D(8, 3, padding="same", name="stage_conv")(stage_input)
    refined = keras.layers.ReLU(name="stage_conv_1")(refined)
    stage = keras.Model(stage_input, keras.layers.Add(name="stage_residual")([stage_input, refined]), name="stage")
    logits = keras.layers.Conv2D(CLASSES, 1, name="classifier")(stage(x))
    return keras.Model(images, logits, name="staged")


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return staged_model()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(np.random.default_rng(0), 8, SIZE, SIZE)


def tensor_dtypes_by_layer(content: bytes) -> dict[str, set[str]]:
    """{layer: the dtypes of the tensors (weights and activations) it produced} for the stem,
    the stage and the classifier."""
    details = Interpreter(model_content=content).get_tensor_details()
    dtypes = {detail["name"]: detail["dtype"].__name__ for detail in details}
    by_layer = tensors_of_layers(dtypes, ["stem", "stage", "classifier"])
    return {layer: {dtypes[name] for name in names} for layer, names in by_layer.items()}


@pytest.mark.slow
def test_the_named_stage_stays_float32_and_the_rest_int8(model, images):
    full = convert_tflite(model, ["int8"], images)["int8"]
    selective = convert_tflite(model, ["int8"], images, int8_float_layers=["stage", "stage"])["int8"]
    assert tensor_dtypes_by_layer(full) == {"stem": {"int8"}, "stage": {"int8"}, "classifier": {"int8"}}
    assert tensor_dtypes_by_layer(selective) == {"stem": {"int8"}, "stage": {"float32"}, "classifier": {"int8"}}
    output = Interpreter(model_content=selective).get_output_details()[0]
    assert output["dtype"] == np.float32 and output["shape"].tolist() == [1, SIZE, SIZE, CLASSES]


def test_tensor_names_are_matched_by_scope_not_by_prefix():
    names = [
        "m_1/decoder_stage3_1/decoder_stage3_block1_depthwise_1/depthwise",
        "m_1/decoder_stage2_1/decoder_stage2_merge_1/Add;m_1/decoder_stage3_1/decoder_stage3_block8_residual_1/Add",
        "m_1/decoder_stage30_1/conv_1/convolution",
        "serving_default_image:0",
    ]
    found = tensors_of_layers(names, ["decoder_stage3", "decoder_stage3_block1_depthwise", "decoder_stage", "image"])
    assert found == {
        "decoder_stage3": names[:2],
        "decoder_stage3_block1_depthwise": names[:1],
        "decoder_stage": [],
        "image": [],
    }


@pytest.mark.parametrize(
    "float_layers, tflite_types, message",
    [
        (["stage", "decoder_stage3"], ["int8"], "decoder_stage3: no such layer in staged .*stem, stage, classifier"),
        (["image"], ["int8"], "image left no op in the TFLite graph"),
        (["stage_conv"], ["int8"], "stage_conv cannot be told from stage_conv_1 .*the stage"),
        (["stage"], ["float32"], "add int8 to the TFLite types"),
    ],
)
def test_a_layer_that_cannot_be_kept_float_is_a_usage_error(model, images, float_layers, tflite_types, message):
    with pytest.raises(UsageError, match=message):
        convert_tflite(model, tflite_types, images, int8_float_layers=float_layers)


@pytest.mark.slow
def test_the_export_records_the_float_layers_and_its_float_logits(model, images, tmp_path):
    result = export_model(
        model, tmp_path / "staged", images[:2], formats=["tflite"], tflite_types=["int8"], calibration_images=images,
        latency_runs=1, int8_float_layers=["stage"],
    )
    path = result.artifacts["tflite_int8"]
    metadata = json.loads(path.with_suffix(".json").read_text())
    output = Interpreter(model_path=str(path)).get_output_details()[0]
    assert metadata["float_layers"] == ["stage"] and metadata["output"]["dtype"] == output["dtype"].__name__
    class_map = load_predictor(path).class_map(images[:2])
    assert class_map.shape == (2, SIZE, SIZE) and class_map.max() < CLASSES
    with pytest.raises(UsageError, match="export tflite with the int8 type"):
        export_model(model, tmp_path / "none", images[:1], formats=["keras"], int8_float_layers=["stage"])
    assert not (tmp_path / "none").exists()


@pytest.mark.slow
def test_export_script_keeps_the_named_layers_float(model, tmp_path, monkeypatch):
    model.save(tmp_path / "staged.keras")
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    common = ["--model", str(tmp_path / "staged.keras"), "--out", str(tmp_path / "out"), "--calibration-dataset",
              "demo", "--calibration-images", "4", "--check-images", "2", "--latency-runs", "1",
              "--int8-max-class-drop", "100"]  # an untrained model's int8 file loses whole classes
    script.main(script.get_args_parser().parse_args(
        [*common, "--formats", "tflite", "--tflite-types", "int8", "--int8-float-layers", "stage"]
    ))
    assert json.loads((tmp_path / "out" / "out_v1_int8.json").read_text())["float_layers"] == ["stage"]
    for flags, message in [
        (["--int8-float-layers", "stage", "--tflite-types", "float32"], "needs tflite and --tflite-types int8"),
        (["--int8-float-layers", "stem,typo"], "typo: no such layer"),
    ]:
        with pytest.raises(UsageError, match=message):
            script.main(script.get_args_parser().parse_args([*common, *flags]))
