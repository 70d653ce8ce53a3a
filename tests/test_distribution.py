"""Training across replicas: mirrored logical CPUs, each in a fresh process (TensorFlow's
devices are fixed once it starts)."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")

MIRRORED_STEP = r"""
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_deconvnet.losses import build_loss

rng = np.random.default_rng(0)
images = rng.uniform(0, 255, (4, 8, 8, 3)).astype("float32")
labels = rng.integers(0, 3, (4, 8, 8)).astype("int32")
labels[2:, :, 1:] = 255  # the second replica's half of the batch is almost all ignored


def one_step(strategy, loss_name):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(3, 1)])
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=build_loss(loss_name, [1.0, 2.0, 0.5]))
    loss = model.train_on_batch(images, labels)
    return float(loss), [w.tolist() for w in model.get_weights()]


devices = [device.name for device in tf.config.list_logical_devices("CPU")]
results = {}
for loss_name in ("cross-entropy", "ohem"):
    results[loss_name] = {
        "one": one_step(tf.distribute.get_strategy(), loss_name),
        "mirrored": one_step(tf.distribute.MirroredStrategy(devices), loss_name),
    }
results["replicas"] = len(devices)
print(json.dumps(results))
"""


def test_mirrored_replicas_take_the_one_device_step(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED_STEP], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["replicas"] == 2
    for loss_name in ("cross-entropy", "ohem"):
        one_loss, one_weights = results[loss_name]["one"]
        mirrored_loss, mirrored_weights = results[loss_name]["mirrored"]
        # The loss is the weighted mean over the valid pixels of the global batch, not the
        # mean of the replicas' means, and so is the step it takes.
        assert mirrored_loss == pytest.approx(one_loss, rel=1e-4), loss_name
        for one, mirrored in zip(one_weights, mirrored_weights, strict=True):
            np.testing.assert_allclose(mirrored, one, rtol=1e-4, atol=1e-6, err_msg=loss_name)
