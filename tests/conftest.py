"""Shared fixtures: everything is built here, offline, in tmp dirs (helpers.py has the functions)."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


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
