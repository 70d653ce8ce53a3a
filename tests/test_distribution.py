"""Training across replicas: mirrored logical CPUs, each in a fresh process (TensorFlow's
devices are fixed once it starts)."""

import json
import os
import socket
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


@pytest.mark.slow
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


WORKER = r"""
import sys
from keras_deconvnet.training import TrainConfig, summary_line, train

config = TrainConfig(
    model="lean", dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 64},
    input_size=(64, 64), batch_size=4, epochs=int(sys.argv[2]), strategy="multiworker", wandb="disabled",
    output_dir=sys.argv[1], resume=sys.argv[3] == "resume",
)
print(summary_line(train(config), sys.argv[1]))
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def start_workers(tmp_path, run_dir, scratch, epochs: int, mode: str) -> list[int]:
    """Two workers on 127.0.0.1 train `run_dir` to `epochs`; their exit codes."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    command = [sys.executable, "-c", WORKER, str(run_dir), str(epochs), mode]
    workers = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            "TMPDIR": str(scratch),
            "KERAS_DECONVNET_TFDS_DIR": str(tmp_path / f"tfds{index}"),
        }
        log = open(tmp_path / f"worker{index}.log", "w")
        workers.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    try:
        codes = [process.wait(timeout=300) for process, _ in workers]
    finally:
        for process, log in workers:
            process.kill()
            log.close()
    return codes


def worker_logs(tmp_path) -> list[str]:
    return [(tmp_path / f"worker{index}.log").read_text()[-3000:] for index in range(2)]


def run_workers(tmp_path, run_dir, scratch, epochs: int, mode: str) -> None:
    """Two workers on 127.0.0.1 train `run_dir` to `epochs`; asserts both exit 0."""
    codes = start_workers(tmp_path, run_dir, scratch, epochs, mode)
    assert codes == [0, 0], worker_logs(tmp_path)


@pytest.mark.slow
def test_two_workers_train_one_run_that_only_the_chief_writes_and_resume_it(tmp_path):
    run_dir, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    run_workers(tmp_path, run_dir, scratch, epochs=2, mode="new")
    rows = (run_dir / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # the header and two epochs, written once
    for name in ("config.json", "best.keras", "last.keras", "metrics.json", "model_summary.txt"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "config.json").read_text())["strategy"] == "multiworker"
    assert not [path for path in scratch.iterdir() if path.name.startswith("keras-deconvnet-worker-")]

    # Stopped after epoch 2 of 3 (as if killed), both workers resume from the chief's folder.
    (run_dir / "metrics.json").unlink()
    run_workers(tmp_path, run_dir, scratch, epochs=3, mode="resume")
    assert [line.split(",")[0] for line in (run_dir / "history.csv").read_text().strip().splitlines()[1:]] == ["0", "1", "2"]
    assert json.loads((run_dir / "last_epoch.json").read_text())["epoch"] == 3
    assert not [path for path in scratch.iterdir() if path.name.startswith("keras-deconvnet-worker-")]


@pytest.mark.slow
def test_a_run_folder_the_chief_refuses_stops_every_worker(tmp_path):
    run_dir, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")  # another run's folder
    # Without the workers' agreement, worker 1 dies in its first collective op with the chief
    # gone, in a long trace that names neither the run folder nor the fix.
    codes = start_workers(tmp_path, run_dir, scratch, epochs=1, mode="new")
    chief_log, worker_log = worker_logs(tmp_path)
    assert codes[0] != 0 and codes[1] != 0, (chief_log, worker_log)
    assert "already holds a run" in chief_log
    assert "the chief worker refused" in worker_log
    assert (run_dir / "config.json").read_text() == "{}"
