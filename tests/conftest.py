"""Shared fixtures: everything is built here, offline, in tmp dirs."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def random_images(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """RGB images, float32 in 0..255, as the models take them."""
    return rng.uniform(0, 255, size=(batch, height, width, 3)).astype("float32")
