"""load_predictor: every format behind one interface, on a tiny convolutional model."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from helpers import random_images
from keras_deconvnet import UsageError
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.export import export_model
from keras_deconvnet.export import KerasPredictor, load_predictor
from keras_deconvnet.models import build_model, resize_model

SIZE = 32


def tiny_model(num_classes: int) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 3, padding="same")(x))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(np.random.default_rng(0), 3, SIZE, SIZE)


@pytest.fixture(scope="module")
def exported(images, tmp_path_factory):
    model = tiny_model(4)
    out_dir = tmp_path_factory.mktemp("saved_models") / "tiny"
    result = export_model(
        model, out_dir, images, calibration_images=images, class_names=["a", "b", "c", "d"], latency_runs=1
    )
    return model, result


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8"])
def test_every_format_opens_with_the_same_interface(kind, exported, images):
    model, result = exported
    predictor = load_predictor(result.artifacts[kind])
    assert predictor.input_size == (SIZE, SIZE) and predictor.num_classes == 4
    assert predictor.class_names == ("a", "b", "c", "d")
    np.testing.assert_array_equal(predictor.palette, voc_palette()[:4])
    logits = predictor.logits(images)
    assert logits.shape == (3, SIZE, SIZE, 4) and logits.dtype == np.float32
    class_map = predictor.class_map(images)
    assert class_map.dtype == np.int32 and class_map.shape == (3, SIZE, SIZE)
    agreement = np.mean(class_map == model.predict(images, verbose=0).argmax(-1))
    assert agreement >= (0.9 if kind == "tflite_int8" else 0.995)


def test_saved_model_predictor_gives_log_probabilities(exported, images):
    model, result = exported
    logits = load_predictor(result.artifacts["saved_model"]).logits(images)
    expected = tf.nn.log_softmax(model.predict(images, verbose=0)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_model_folder_means_its_latest_saved_model_version(exported, images, tmp_path):
    _, result = exported
    out_dir = result.artifacts["saved_model"].parent
    second = export_model(tiny_model(5), out_dir, images, formats=["saved_model"], latency_runs=1)
    assert second.version == 2
    assert load_predictor(out_dir).num_classes == 5
    assert load_predictor(out_dir / "1").num_classes == 4


def test_tflite_with_int8_input_and_output_is_quantised_by_the_predictor(images, tmp_path):
    model = tiny_model(4)
    path = tmp_path / "int8_io.tflite"
    model.export(
        str(path), format="litert", verbose=False,
        input_signature=[tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32)],
        optimizations=[tf.lite.Optimize.DEFAULT],
        representative_dataset=lambda: ([image[None]] for image in images),
        inference_input_type=tf.int8, inference_output_type=tf.int8,
    )
    assert Interpreter(model_path=str(path)).get_input_details()[0]["dtype"] == np.int8
    predictor = load_predictor(path)
    logits, expected = predictor.logits(images), model.predict(images, verbose=0)
    assert np.abs(logits - expected).max() < 0.1 * np.abs(expected).max()
    assert np.mean(predictor.class_map(images) == expected.argmax(-1)) >= 0.9


def test_keras_model_in_memory_has_default_names_and_palette(images):
    predictor = KerasPredictor(tiny_model(3))
    assert predictor.class_names == ("class_0", "class_1", "class_2")
    np.testing.assert_array_equal(predictor.palette, voc_palette()[:3])
    with pytest.raises(UsageError, match=r"images must be \(batch, 32, 32, 3\)"):
        predictor.class_map(images[0])


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.keras", None, "model not found"),
        ("corrupt.tflite", b"not a flatbuffer", "could not load"),
        ("corrupt.keras", b"not a zip", "is not a .keras model"),
        ("corrupt.onnx", b"\x08\x01", "could not load"),
        ("model.pmml", b"<PMML/>", "is not a model"),
        ("empty_folder", "dir", "no SavedModel in"),
        ("broken_saved_model", "saved_model.pb", "could not load"),
    ],
)
def test_missing_or_corrupt_models_are_one_line_usage_errors(name, content, message, tmp_path):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content == "saved_model.pb":
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"garbage")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as error:
        load_predictor(path)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_a_keras_model_runs_at_another_input_size_with_the_same_weights(tmp_path, exported):
    model = build_model("lean", num_classes=3, input_shape=(64, 64, 3))
    path = tmp_path / "lean.keras"
    model.save(path)
    predictor = load_predictor(path, input_size=(96, 128))
    assert predictor.input_size == (96, 128)
    assert predictor.logits(random_images(np.random.default_rng(1), 1, 96, 128)).shape == (1, 96, 128, 3)
    assert resize_model(model, (64, 64)) is model
    there_and_back = resize_model(resize_model(model, (96, 128)), (64, 64))
    x = random_images(np.random.default_rng(2), 2, 64, 64)
    np.testing.assert_allclose(there_and_back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(UsageError, match="not built by keras_deconvnet.build_model"):
        resize_model(tiny_model(3), (64, 64))
    _, result = exported
    with pytest.raises(UsageError, match="fixed input size"):
        load_predictor(result.artifacts["tflite_float32"], input_size=(64, 64))
    assert load_predictor(result.artifacts["tflite_float32"], input_size=(SIZE, SIZE)).input_size == (SIZE, SIZE)


def test_a_run_folder_passed_as_the_model_names_its_checkpoint(tmp_path):
    from keras_deconvnet.models import load_model

    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"a checkpoint")
    for load in (load_predictor, load_model):
        with pytest.raises(UsageError, match=f"{run} is a training run's folder: pass {run / 'best.keras'}$"):
            load(run)
