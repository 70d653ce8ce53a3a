"""The models, losses and metric also run on Keras' JAX backend (skipped where JAX is absent)."""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import keras, numpy as np
from keras_deconvnet.models import build_model
from keras_deconvnet.losses import build_loss
from keras_deconvnet.constants import LOSS_NAMES
from keras_deconvnet.evaluation.metrics import mean_iou_metric
assert keras.backend.backend() == "jax"
rng = np.random.default_rng(0)
for name, loss in [("paper", "cross-entropy"), *(("lean", loss) for loss in LOSS_NAMES)]:
    model = build_model(name, num_classes=3, input_shape=(64, 64, 3))
    model.compile(optimizer="adam", loss=build_loss(loss, [1.0, 2.0, 1.0]), metrics=[mean_iou_metric(3)])
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 64, 64))
    labels[:, :4] = 255
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(images, labels, return_dict=True)
    assert np.isfinite(logs["loss"]), logs
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())), name
    assert model.predict(images, verbose=0).shape == (2, 64, 64, 3)
    ignored = np.full((2, 64, 64), 255)
    assert float(build_loss(loss, [1.0, 2.0, 1.0])(ignored, model.predict(images, verbose=0))) == 0.0
print("ok")
"""


@pytest.mark.slow
def test_models_and_losses_train_on_the_jax_backend():
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
