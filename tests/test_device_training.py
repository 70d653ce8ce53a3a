"""Training with the dataset in accelerator memory (`--data-loader device`): Keras on JAX, no TensorFlow."""

import csv
import json
import os
import subprocess
import sys

import keras
import pytest

from keras_deconvnet.errors import UsageError
from keras_deconvnet.training import TrainConfig, train
from tests.fixtures import WITHOUT_TENSORFLOW

# Trains on Keras' JAX backend with TensorFlow made unimportable, is killed after its second
# epoch's history row (before its checkpoint), and resumes.
KILLED_AND_RESUMED = WITHOUT_TENSORFLOW + """
import dataclasses, json
from keras_deconvnet.training import TrainConfig, train
from tests.fixtures import WITHOUT_TENSORFLOW
from keras_deconvnet.training import device_loop

config = TrainConfig(model="lean", dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 48},
                     epochs=3, input_size=(32, 32), batch_size=4, photometric=True, mix="classmix", ema_decay=0.5,
                     schedule="poly", patience=0, data_loader="device", wandb="disabled", output_dir=sys.argv[1])
write_history = device_loop._write_history

def killed(path, rows):
    write_history(path, rows)
    if len(rows) == 2:
        raise RuntimeError("simulated kill")

device_loop._write_history = killed
try:
    train(config)
except RuntimeError:
    pass
device_loop._write_history = write_history
print(json.dumps(train(dataclasses.replace(config, resume=True))))
"""


@pytest.mark.slow
def test_device_training_writes_its_run_as_it_goes_and_resumes_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    run_dir = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", KILLED_AND_RESUMED, str(run_dir)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    # Epoch 1 is not trained again after the kill: the run went on from its checkpoint.
    assert [done.stdout.count(f"epoch {epoch}/3 ") for epoch in (1, 2, 3)] == [1, 1, 1]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["epochs_run"] == 3 and 0 <= metrics["last_val_mean_iou"] <= 1
    with open(run_dir / "history.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1", "2"]  # epoch 2 redone, once
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_loader"] == "device" and config["steps_per_epoch"] == 2
    for name in ("best.keras", "last.keras", "metrics.json", "best_epoch.json"):
        assert (run_dir / name).is_file(), name


def test_device_training_refuses_what_it_does_not_apply(tmp_path, monkeypatch):
    from keras_deconvnet.training import device_loop

    config = TrainConfig(model="lean", dataset="demo", data_loader="device", wandb="disabled", mixed_precision=True,
                         output_dir=str(tmp_path / "run"))
    with pytest.raises(UsageError, match=r"does not apply --mixed-precision, --patience 20 \(early stopping; pass --patience 0"):
        device_loop._check_supported(config)


def test_device_training_needs_the_jax_backend(tmp_path):
    if keras.backend.backend() == "jax":
        pytest.skip("runs on another backend")
    config = TrainConfig(model="lean", dataset="demo", data_loader="device", wandb="disabled", output_dir=str(tmp_path / "run"))
    with pytest.raises(UsageError, match="set KERAS_BACKEND=jax"):
        train(config)
    assert not (tmp_path / "run").exists()
