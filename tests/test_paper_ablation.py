"""The ablations of the paper's model: its code on the conv5 grid, then encoder skips."""

import keras
import numpy as np
import pytest

from helpers import random_images, run_model_saving_test
from keras_deconvnet import build_model
from keras_deconvnet.models import fits
from keras_deconvnet.models.deconvnet import build_paper_deconvnet

SIZE, CLASSES = 96, 5  # the conv5 grid is 3x3
NAMES = ("paper", "paper_spatial", "paper_skips")
# paper_skips: decoder Add -> the encoder stage it reads, directly or through a 1x1 projection
SKIPS = {
    "deconv5_skip": "conv5",
    "deconv4_skip": "conv4",
    "deconv2_skip": "conv3",
    "deconv1_skip": "conv2",
    "deconv1_3_skip": "conv1",
}


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    shape = (SIZE, SIZE, 3)
    return {name: build_model(name, num_classes=CLASSES, input_shape=shape) for name in NAMES}


def producers(layer: keras.Layer) -> list[str]:
    """Names of the layers whose outputs `layer` takes (a nested stage's `.output` is its
    inner tensor, so tensors are traced back to the layer that made them)."""
    tensors = layer.input if isinstance(layer.input, list) else [layer.input]
    return [tensor._keras_history.operation.name for tensor in tensors]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_each_variant_predicts_per_pixel_logits_under_its_own_name(models, name, rng):
    model = models[name]
    assert model.name == name
    logits = model.predict(random_images(rng, 2, SIZE, SIZE), verbose=0)
    assert logits.shape == (2, SIZE, SIZE, CLASSES)
    assert np.isfinite(logits).all()


def test_spatial_code_keeps_the_conv5_grid_where_the_papers_is_1x1(models):
    grid = SIZE // 32
    assert tuple(models["paper"].get_layer("conv67").output.shape[1:]) == (1, 1, 1000)
    for name in ("paper_spatial", "paper_skips"):
        model = models[name]
        assert tuple(model.get_layer("conv5").output.shape[1:3]) == (grid, grid)
        assert tuple(model.get_layer("conv67").output.shape[1:]) == (grid, grid, 1000)
        deconv67 = model.get_layer("deconv67")
        assert not any(isinstance(layer, keras.layers.UpSampling2D) for layer in deconv67.layers)


def test_only_paper_skips_adds_encoder_features_into_its_decoder(models):
    for name in ("paper", "paper_spatial"):
        assert not any(isinstance(layer, keras.layers.Add) for layer in models[name].layers)
    model = models["paper_skips"]
    for add_name, encoder_name in SKIPS.items():
        add = model.get_layer(add_name)
        assert isinstance(add, keras.layers.Add)
        sources = producers(add)
        if f"{add_name}_project_bn" in sources:
            sources = producers(model.get_layer(f"{add_name}_project"))
        assert encoder_name in sources, add_name


def test_parameter_counts_grow_by_the_3x3_code_then_the_skip_projections(models):
    paper, spatial, skips = (models[name].count_params() for name in NAMES)
    assert spatial - paper == (9 - 1) * 576 * 1024  # conv67_fc6: 3x3 kernel instead of 1x1
    # 1x1 projections (and batch norm) where widths differ: conv3 40 -> 24, conv2 24 -> 16
    assert skips - spatial == 40 * 24 + 4 * 24 + 24 * 16 + 4 * 16
    assert not fits(models["paper"], models["paper_spatial"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["paper_spatial", "paper_skips"])
def test_keras_file_round_trip_and_resize_keep_the_variant(models, name, tmp_path, rng):
    run_model_saving_test(models[name], tmp_path, rng, resize_to=(64, 64))


def test_unknown_code_is_refused():
    with pytest.raises(ValueError, match='code must be "vector" or "spatial"'):
        build_paper_deconvnet(input_shape=(64, 64, 3), code="grid")
