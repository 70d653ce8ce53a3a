"""The data path without TensorFlow: splits read into arrays, NumPy batches, and training on them."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_deconvnet.data.numpy_pipeline import (
    EvaluationBatches,
    TrainingBatches,
    photometric_distortion,
    random_crop_pair,
)
from keras_deconvnet.datasets.arrays import load_arrays
from keras_deconvnet.errors import UsageError
from tests.fixtures import WITHOUT_TENSORFLOW, write_camvid_tree


@pytest.fixture
def camvid(tmp_path):
    sequences = {"train": ("0001TP", "0006R0"), "val": ("0016E5",)}
    return write_camvid_tree(tmp_path / "camvid", splits={"train": 6, "val": 3}, size=(40, 56), sequences=sequences)


def batches(arrays, **overrides):
    settings = dict(num_classes=11, ignore_label=11, input_size=(32, 48), batch_size=2, seed=3)
    return TrainingBatches(arrays.images, arrays.masks, **{**settings, **overrides})


def test_camvid_splits_join_and_hold_out_a_sequence(camvid):
    joined, info = load_arrays("camvid", "train+val", camvid)
    assert len(joined.images) == 9 and info.num_classes == 11 and info.ignore_label == 11
    assert joined.images[0].dtype == np.uint8 and joined.images[0].shape == (40, 56, 3)
    assert joined.masks[0].shape == (40, 56)
    heldout, _ = load_arrays("camvid", "heldout_val", camvid)
    assert {name.split("_")[0] for name in heldout.file_names} == {"0006R0"}


@pytest.mark.parametrize(
    ("name", "split", "words"),
    [("camvid", "train[:50%]", "slices"), ("camvid", "test", "no split 'test'"), ("voc2012_segmentation", "train", "tf")],
)
def test_what_the_numpy_path_cannot_read_is_one_clear_error(camvid, name, split, words):
    with pytest.raises(UsageError, match=words.replace("[", r"\[")):
        load_arrays(name, split, camvid)


def test_training_batches_are_crops_with_255_for_ignore_and_repeat_with_the_seed(camvid):
    arrays, _ = load_arrays("camvid", "train", camvid)
    data = batches(arrays, photometric=True)
    images, masks = data[0]
    assert images.shape == (2, 32, 48, 3) and images.dtype == np.float32
    assert masks.shape == (2, 32, 48) and masks.dtype == np.int32
    assert 0 <= images.min() and images.max() <= 255
    assert set(np.unique(masks)) <= set(range(11)) | {255}
    assert 255 in masks and 11 not in masks  # the fixture's borders are CamVid's ignore label 11
    again_images, again_masks = batches(arrays, photometric=True)[0]
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(masks, again_masks)
    assert data.batches_per_epoch == 3 and data.num_batches is None  # an endless stream of epochs
    assert not np.array_equal(data[3][0], images)  # the next epoch draws other crops
    resumed = batches(arrays, photometric=True, first_epoch=1)  # a run resumed after epoch 1
    for index in range(3):
        np.testing.assert_array_equal(resumed[index][0], data[3 + index][0])


def test_every_epoch_shows_every_image_once(camvid):
    arrays, _ = load_arrays("camvid", "train", camvid)
    data = batches(arrays, input_size=(40, 56), scale_range=(1.0, 1.0), flip=False)  # no change
    originals = [image.astype(np.float32) for image in arrays.images]
    for epoch in range(3):
        seen = []
        for index in range(epoch * 3, epoch * 3 + 3):
            for image in data[index][0]:
                seen += [i for i, original in enumerate(originals) if np.array_equal(image, original)]
        assert sorted(seen) == list(range(6)), epoch


def test_a_folder_whose_ignore_label_is_a_class_is_refused(tmp_path):
    from tests.fixtures import write_folder_tree

    root = write_folder_tree(tmp_path / "data")
    with pytest.raises(UsageError, match=r"ignore_label \(--ignore-label\) from num_classes"):
        load_arrays("folder", "train", root, num_classes=3, ignore_label=0)
    with pytest.raises(UsageError, match="num_val must be an integer >= 1"):
        load_arrays("demo", "val", None, num_val=0)


def test_photometric_distortion_changes_images_never_masks(camvid):
    arrays, _ = load_arrays("camvid", "train", camvid)
    plain = batches(arrays, batch_size=1)
    distorted = batches(arrays, batch_size=1, photometric=True)
    changed = 0
    for index in range(plain.batches_per_epoch):
        (image, mask), (distorted_image, distorted_mask) = plain[index], distorted[index]
        np.testing.assert_array_equal(mask, distorted_mask)
        changed += not np.allclose(image, distorted_image)
    assert changed


def test_photometric_distortion_keeps_grey_grey_and_in_range():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (16, 16, 1), dtype=np.uint8), 3, axis=-1)
    for _ in range(20):
        out = photometric_distortion(grey, rng)
        assert 0 <= out.min() and out.max() <= 255
        np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1)
        np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1)


def test_a_small_image_is_padded_with_ignore_around_it():
    image = np.full((4, 6, 3), 200, np.uint8)
    mask = np.ones((4, 6), np.uint8)
    crop_image, crop_mask = random_crop_pair(image, mask, (8, 8), np.random.default_rng(0))
    assert crop_image.shape == (8, 8, 3) and crop_mask.shape == (8, 8)
    assert (crop_mask == 1).sum() == 24 and (crop_mask == 255).sum() == 40
    assert (crop_image[crop_mask == 255] == 0).all()


def test_evaluation_batches_keep_the_order_and_a_short_last_batch(camvid):
    arrays, _ = load_arrays("camvid", "val", camvid)
    data = EvaluationBatches(arrays.images, arrays.masks, num_classes=11, ignore_label=11, input_size=(32, 64), batch_size=2)
    assert len(data) == 2
    images, masks = data[1]
    assert images.shape == (1, 32, 64, 3) and masks.shape == (1, 32, 64)


def test_too_few_images_for_a_batch_is_refused(camvid):
    arrays, _ = load_arrays("camvid", "val", camvid)
    with pytest.raises(UsageError, match="smaller batch"):
        batches(arrays, batch_size=8)


# Trains on Keras' JAX backend with TensorFlow made unimportable.
NO_TENSORFLOW = WITHOUT_TENSORFLOW + """
from keras_deconvnet.training import TrainConfig, train
train(TrainConfig(model="lean", dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 48},
                  epochs=1, input_size=(32, 32), batch_size=4, photometric=True, wandb="disabled",
                  output_dir=sys.argv[1]))
assert "tensorflow" not in sys.modules
"""


@pytest.mark.slow
def test_training_runs_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    run_dir = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(run_dir)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_loader"] == "auto" and config["steps_per_epoch"] == 2
    assert (run_dir / "history.csv").is_file() and (run_dir / "last.keras").is_file()
    assert not (run_dir / "tensorboard").exists()


@pytest.mark.slow
def test_training_takes_the_numpy_path_on_any_backend(tmp_path):
    from keras_deconvnet.training import TrainConfig, train

    run_dir = tmp_path / "run"
    metrics = train(TrainConfig(
        model="lean", dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 48},
        epochs=1, input_size=(32, 32), batch_size=4, data_loader="numpy", wandb="disabled", output_dir=str(run_dir),
    ))
    assert metrics["epochs_run"] == 1
    assert json.loads((run_dir / "config.json").read_text())["steps_per_epoch"] == 2
