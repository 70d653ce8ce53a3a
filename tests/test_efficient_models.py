import keras
import numpy as np
import pytest

from helpers import random_images, run_model_saving_test
from keras_deconvnet.models.heads import build_aspp_small, build_lraspp_large, build_lraspp_small
from keras_deconvnet.models.lean import build_lean_deconvnet

# The efficient models: builder -> parameter range at 21 classes, as its docstring gives it
# (lean's target: at most 3M).
BUILDERS = {
    build_lean_deconvnet: (1_100_000, 1_300_000),
    build_lraspp_small: (1_000_000, 1_200_000),
    build_lraspp_large: (3_100_000, 3_400_000),
    build_aspp_small: (1_450_000, 1_700_000),
}


@pytest.fixture(scope="module", params=list(BUILDERS), ids=lambda builder: builder.__name__)
def small_model(request) -> keras.Model:
    return request.param(num_classes=3, input_shape=(64, 96, 3))


@pytest.mark.slow
@pytest.mark.parametrize("builder", list(BUILDERS), ids=lambda builder: builder.__name__)
@pytest.mark.parametrize("shape", [(64, 64, 3), (96, 64, 3)])
def test_logits_at_the_input_size(builder, shape, rng):
    model = builder(num_classes=2, input_shape=shape)
    logits = model.predict(random_images(rng, 2, *shape[:2]), verbose=0)
    assert logits.shape == (2, shape[0], shape[1], 2)
    assert logits.dtype == np.float32
    assert np.isfinite(logits).all()


@pytest.mark.parametrize("builder", list(BUILDERS), ids=lambda builder: builder.__name__)
def test_parameter_counts_match_the_docstrings(builder):
    low, high = BUILDERS[builder]
    assert low <= builder(num_classes=21, input_shape=(64, 64, 3)).count_params() <= high


def test_lraspp_reads_stride_8_and_stride_32_features():
    model = build_lraspp_small(num_classes=3, input_shape=(64, 96, 3))
    head = model.get_layer("lraspp")
    assert [tuple(tensor.shape[1:]) for tensor in head.inputs] == [(8, 12, 24), (2, 3, 576)]
    assert tuple(head.output.shape[1:]) == (8, 12, 3)
    large_head = build_lraspp_large(num_classes=3, input_shape=(64, 96, 3)).get_layer("lraspp")
    assert [tensor.shape[-1] for tensor in large_head.inputs] == [40, 960]


def test_aspp_has_three_atrous_branches_and_image_pooling():
    head = build_aspp_small(num_classes=3, input_shape=(64, 96, 3)).get_layer("aspp")
    rates = sorted(
        layer.dilation_rate[0] for layer in head.layers if isinstance(layer, keras.layers.DepthwiseConv2D)
    )
    assert rates == [3, 6, 9]
    assert head.get_layer("aspp_concat").output.shape[-1] == 5 * 128
    assert tuple(head.input.shape[1:]) == (2, 3, 576)


@pytest.mark.slow
def test_keras_file_round_trips_outputs_and_resizes_by_its_name(small_model, tmp_path, rng):
    run_model_saving_test(small_model, tmp_path, rng, resize_to=(96, 128))


@pytest.mark.slow
def test_one_training_step_changes_the_weights_and_keeps_them_finite(small_model, rng):
    small_model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        run_eagerly=True,  # tracing the train step takes ~10 s; one eager step ~1 s
    )
    labels = rng.integers(0, 3, size=(2, 64, 96)).astype("int32")
    labels[:, :8] = 255
    before = [weight.numpy().copy() for weight in small_model.trainable_weights]
    loss = small_model.train_on_batch(random_images(rng, 2, 64, 96), labels)
    after = [weight.numpy() for weight in small_model.trainable_weights]
    assert np.isfinite(loss)
    assert all(np.isfinite(weight).all() for weight in after)
    assert any(not np.array_equal(old, new) for old, new in zip(before, after))


@pytest.mark.slow
def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        models = [builder(num_classes=3, input_shape=(64, 64, 3)) for builder in BUILDERS]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for model in models:
        assert model.layers[-2].output.dtype == "float16"  # the head computes in float16
        assert model.output.dtype == "float32"
