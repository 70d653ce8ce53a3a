"""Helpers the tests import (conftest.py holds only fixtures): random inputs, the commands
behind the scripts, and the checks every model gets (as keras-hub's `run_model_saving_test`)."""

import importlib
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np

from keras_deconvnet.models import fits, load_model, resize_model

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def random_images(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """RGB images, float32 in 0..255, as the models take them."""
    return rng.uniform(0, 255, size=(batch, height, width, 3)).astype("float32")


def synthetic_dataset_images(sources: list | None = None):
    """A stand-in for export.py's `dataset_images`: random 32x32 images of 3 classes; it
    notes each (source, split)."""
    rng = np.random.default_rng(3)
    info = SimpleNamespace(
        name="synthetic", num_classes=3, class_names=("a", "b", "c"), palette=np.eye(3, dtype=np.uint8) * 255
    )

    def dataset_images(source, split, count, model):
        if sources is not None:
            sources.append((source, split))
        return random_images(rng, count, 32, 32), rng.integers(0, 3, size=(count, 32, 32)), info

    return dataset_images


def load_script(name: str):
    """The command behind scripts/NAME.py (keras_deconvnet.commands.NAME), to call its `main`
    in-process and patch what it uses; the script itself only runs it."""
    return importlib.import_module(f"keras_deconvnet.commands.{name}")


def run_model_saving_test(
    model: keras.Model, tmp_path: Path, rng: np.random.Generator, resize_to: tuple[int, int] | None = None
) -> keras.Model:
    """Saves `model` as .keras and loads it back (same name, same logits); with `resize_to`, also
    rebuilds the loaded model at that size by its name, with the same weights. Returns the loaded model."""
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    restored = load_model(path, compile=False)
    assert restored.name == model.name
    images = random_images(rng, 2, *model.input_shape[1:3])
    np.testing.assert_allclose(restored.predict_on_batch(images), model.predict_on_batch(images), atol=1e-5)
    if resize_to is not None:
        resized = resize_model(restored, resize_to)
        assert resized.name == model.name
        assert resized.output_shape == (None, *resize_to, model.output_shape[-1])
        assert fits(resized, model)
        for before, after in zip(model.get_weights(), resized.get_weights()):
            np.testing.assert_array_equal(before, after)
    return restored
