import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from conftest import random_images
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


@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 96, 3)])
def test_logits_at_the_input_size(shape, rng):
    lean = build_lean_deconvnet(num_classes=2, input_shape=shape)
    logits = lean.predict(random_images(rng, 2, *shape[:2]), verbose=0)
    assert logits.shape == (2, shape[0], shape[1], 2)
    assert logits.dtype == np.float32
    assert np.isfinite(logits).all()


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


def test_parameter_count_is_about_1_2m_and_under_3m():
    count = build_lean_deconvnet(num_classes=21, input_shape=(64, 64, 3)).count_params()
    assert 1_100_000 <= count <= 1_300_000 < 3_000_000


def test_keras_file_round_trips_outputs(model, tmp_path, rng):
    images = random_images(rng, 2, 64, 96)
    model.save(tmp_path / "lean.keras")
    restored = keras.models.load_model(tmp_path / "lean.keras")
    np.testing.assert_allclose(restored.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_one_training_step_changes_the_weights_and_keeps_them_finite(model, rng):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        run_eagerly=True,  # tracing the train step takes ~10 s; one eager step ~1 s
    )
    labels = rng.integers(0, 3, size=(2, 64, 96)).astype("int32")
    labels[:, :8] = 255
    before = [weight.numpy().copy() for weight in model.trainable_weights]
    loss = model.train_on_batch(random_images(rng, 2, 64, 96), labels)
    after = [weight.numpy() for weight in model.trainable_weights]
    assert np.isfinite(loss)
    assert all(np.isfinite(weight).all() for weight in after)
    assert any(not np.array_equal(old, new) for old, new in zip(before, after))


def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        lean = build_lean_deconvnet(num_classes=3, input_shape=(64, 64, 3))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert lean.get_layer("classifier").output.dtype == "float16"
    assert lean.output.dtype == "float32"


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
