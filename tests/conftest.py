"""Shared fixtures: everything is built here, offline, in tmp dirs."""

import importlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


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


@pytest.fixture(scope="session", autouse=True)
def dataset_cache(tmp_path_factory):
    """Prepared datasets go to a tmp dir, never the user's ~/tensorflow_datasets.

    Set for the whole session (subprocesses inherit it); tests that need their own cache
    override it with monkeypatch.
    """
    import os

    path = tmp_path_factory.mktemp("tfds_cache")
    previous = os.environ.get("KERAS_DECONVNET_TFDS_DIR")
    os.environ["KERAS_DECONVNET_TFDS_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("KERAS_DECONVNET_TFDS_DIR")
    else:
        os.environ["KERAS_DECONVNET_TFDS_DIR"] = previous
