import zipfile

import keras
import numpy as np
import pytest
from helpers import random_images, run_model_saving_test

from keras_deconvnet import UsageError, build_model, load_model

# Table I of the paper: stage -> (height, width, channels) at 224x224 with 21 classes.
TABLE_1 = {
    "conv1": (112, 112, 16),
    "conv2": (28, 28, 24),
    "conv3": (14, 14, 40),
    "conv4": (7, 7, 96),
    "conv5": (7, 7, 576),
    "conv67": (1, 1, 1000),
    "deconv67": (7, 7, 576),
    "deconv5": (7, 7, 96),
    "deconv4": (7, 7, 40),
    "deconv3": (14, 14, 24),
    "deconv2": (28, 28, 16),
    "deconv1": (112, 112, 21),
    "mask": (224, 224, 21),
}


@pytest.fixture(scope="module")
def paper_model() -> keras.Model:
    return build_model("paper")


@pytest.fixture(scope="module")
def vgg16_model() -> keras.Model:
    return build_model("deconvnet_vgg16")


def test_paper_model_stages_match_table_1(paper_model):
    for stage, shape in TABLE_1.items():
        assert tuple(paper_model.get_layer(stage).output.shape[1:]) == shape, stage


def test_paper_model_has_about_the_papers_12m_parameters(paper_model):
    # documented in build_paper_deconvnet: about 11.6M, near the paper's 12M
    assert 11_000_000 <= paper_model.count_params() <= 12_500_000


def test_paper_encoder_is_mobilenet_v3_small_with_its_preprocessing(paper_model):
    encoder = [paper_model.get_layer(f"conv{i}") for i in range(1, 6)]
    assert sum(stage.count_params() for stage in encoder) == 939_120  # MobileNetV3Small, no top
    assert any(isinstance(layer, keras.layers.Rescaling) for layer in encoder[0].layers)


def test_vgg16_deconvnet_has_252m_parameters_and_mirrored_stages(vgg16_model):
    assert 250_000_000 <= vgg16_model.count_params() <= 255_000_000
    assert tuple(vgg16_model.get_layer("conv67").output.shape[1:]) == (1, 1, 4096)
    assert tuple(vgg16_model.get_layer("deconv67").output.shape[1:]) == (7, 7, 512)
    for level, size in zip(range(1, 6), (112, 56, 28, 14, 7)):
        assert vgg16_model.get_layer(f"pool{level}").output[0].shape[1] == size
        assert vgg16_model.get_layer(f"unpool{level}").output.shape[1] == 2 * size
    assert tuple(vgg16_model.output.shape[1:]) == (224, 224, 21)


@pytest.mark.slow
def test_vgg16_deconvnet_forward_pass(vgg16_model, rng):
    logits = vgg16_model.predict(random_images(rng, 1, 224, 224), verbose=0)
    assert logits.shape == (1, 224, 224, 21)
    assert np.isfinite(logits).all()


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 96, 3)])
def test_paper_model_forward_pass_at_small_sizes(shape, rng):
    model = build_model("paper", num_classes=5, input_shape=shape)
    logits = model.predict(random_images(rng, 3, *shape[:2]), verbose=0)
    assert logits.shape == (3, shape[0], shape[1], 5)
    assert logits.dtype == np.float32
    assert np.isfinite(logits).all()


@pytest.mark.slow
def test_keras_file_round_trips_outputs(tmp_path, rng):
    run_model_saving_test(build_model("paper", num_classes=3, input_shape=(64, 64, 3)), tmp_path, rng)


def test_unpooling_model_round_trips_through_a_keras_file(tmp_path, rng):
    from keras_deconvnet.models.layers import MaxPoolingWithSwitches, MaxUnpooling

    inputs = keras.Input((8, 8, 2))
    pooled, switches = MaxPoolingWithSwitches()(inputs)
    model = keras.Model(inputs, MaxUnpooling()(pooled * 2.0, switches))
    model.save(tmp_path / "unpool.keras")
    restored = keras.models.load_model(tmp_path / "unpool.keras")
    x = rng.normal(size=(1, 8, 8, 2)).astype("float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_local_backbone_weights_are_loaded(tmp_path):
    encoder = keras.applications.MobileNetV3Small(
        input_shape=(64, 64, 3), include_top=False, weights=None, include_preprocessing=True
    )
    path = tmp_path / "encoder.weights.h5"
    encoder.save_weights(path)
    model = build_model("paper", num_classes=3, input_shape=(64, 64, 3), backbone_weights=str(path))
    expected = encoder.get_layer("conv_1").get_weights()[0]
    np.testing.assert_array_equal(model.get_layer("conv5").get_layer("conv_1").get_weights()[0], expected)


def test_imagenet_weights_offline_give_one_clear_error(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(UsageError, match="could not download the ImageNet weights.*local|could not download the ImageNet weights.*path"):
        build_model("paper", input_shape=(64, 64, 3), backbone_weights="imagenet")


def test_an_error_building_a_random_encoder_is_not_blamed_on_weights(monkeypatch):
    from keras_deconvnet.models import backbone

    def broken(**kwargs):
        raise RuntimeError("collective ops aborted")

    monkeypatch.setitem(backbone._APPLICATIONS, "small", broken)
    with pytest.raises(RuntimeError, match="collective ops aborted"):
        backbone.build_mobilenet_v3((64, 64, 3), "small", None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "unet"}, "unknown model 'unet'; choose one of: paper, deconvnet_vgg16, lean"),
        ({"name": "paper", "input_shape": (100, 100, 3)}, "multiples of 32"),
        ({"name": "paper", "input_shape": (64, 64, 1)}, r"\(height, width, 3\)"),
        ({"name": "paper", "num_classes": 1}, "num_classes must be an integer from 2 to 255"),
        ({"name": "paper", "backbone_weights": "missing.h5"}, "backbone weights file not found"),
        ({"name": "deconvnet_vgg16", "input_shape": (192, 192, 3)}, "at least 224x224"),
    ],
)
def test_bad_arguments_raise_a_clear_error(kwargs, message):
    with pytest.raises(UsageError, match=message):
        build_model(**kwargs)


def test_load_model_rejects_missing_and_corrupt_files(tmp_path):
    with pytest.raises(UsageError, match="model file not found"):
        load_model(tmp_path / "missing.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="is not a .keras model"):  # not Keras' "File not found"
        load_model(corrupt)
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
        archive.writestr("notes.txt", "a zip, but not a model")
    with pytest.raises(UsageError, match="could not load"):
        load_model(tmp_path / "other.keras")


def test_every_batch_norm_follows_its_statistics_quickly():
    from keras_deconvnet.models import BN_MOMENTUM, all_layers

    model = build_model("lean", num_classes=3, input_shape=(64, 64, 3))
    momenta = {
        layer.momentum for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert momenta == {BN_MOMENTUM} == {0.9}
    assert len(model.get_layer("conv3").layers) > 10  # nested encoder stages are reached
