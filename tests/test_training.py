"""End to end on a small demo set: train, checkpoints, resume, W&B offline, evaluate, predict."""

import csv
import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import load_script

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models import build_model
from keras_deconvnet.training import (
    TrainConfig,
    ValidationScores,
    load_initial_weights,
    train,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SMALL_DEMO = {"num_train": 16, "num_val": 8, "image_size": 64}


def small_config(run_dir: Path, **overrides) -> TrainConfig:
    values = {
        "model": "paper",
        "dataset": "demo",
        "dataset_options": SMALL_DEMO,
        "input_size": (64, 64),
        "batch_size": 4,
        "epochs": 2,
        "lr": 1e-3,
        "wandb": "disabled",
        "output_dir": str(run_dir),
        **overrides,
    }
    return TrainConfig(**values)


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    return run_dir, train(small_config(run_dir))


@pytest.mark.slow
def test_a_run_leaves_every_artifact(trained_run):
    run_dir, metrics = trained_run
    for name in ("config.json", "best.keras", "last.keras", "history.csv", "curves.png", "metrics.json", "best_epoch.json", "model_summary.txt"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "tensorboard").is_dir()
    assert not list(run_dir.glob(".*partial*"))
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == metrics
    assert metrics["epochs_run"] == 2 and metrics["best_epoch"] in (1, 2)
    assert 0.0 <= metrics["best_val_mean_iou"] <= 1.0
    assert set(metrics["best_val_per_class_iou"]) == set(json.loads((run_dir / "config.json").read_text())["class_names"])
    assert json.loads((run_dir / "config.json").read_text())["val_images_in_train"] == 0


@pytest.mark.slow
def test_history_logs_the_learning_rate_and_epoch_time_for_the_curves(trained_run):
    run_dir, _ = trained_run
    rows = history(run_dir)
    assert all(float(row["learning_rate"]) > 0 and float(row["epoch_seconds"]) > 0 for row in rows)
    assert float(rows[1]["learning_rate"]) < float(rows[0]["learning_rate"])  # cosine decay


@pytest.mark.slow
def test_two_epochs_lower_the_training_loss(trained_run):
    rows = history(trained_run[0])
    assert len(rows) == 2
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert "val_pixel_accuracy" in rows[0] and "val_mean_iou" in rows[0]


@pytest.mark.slow
def test_best_checkpoint_reloads_with_the_logged_val_miou(trained_run):
    from keras_deconvnet.datasets import load_split
    from keras_deconvnet.evaluation import evaluate
    from keras_deconvnet.export import load_predictor

    run_dir, metrics = trained_run
    split, info = load_split("demo", "val", None, **SMALL_DEMO)
    scores = evaluate(load_predictor(run_dir / "best.keras"), split, info, mode="resize", batch_size=4)
    assert scores["mean_iou"] == pytest.approx(metrics["best_val_mean_iou"], abs=1e-5)
    model = keras.models.load_model(run_dir / "best.keras")
    assert model.optimizer is not None and int(model.optimizer.iterations) > 0


@pytest.mark.slow
def test_early_stopping_stops_when_val_miou_stalls(tmp_path, monkeypatch):
    # Validation mIoU that never improves (batch-norm statistics alone would still move it).
    original = ValidationScores.on_epoch_end

    def stalled(self, epoch, logs=None):
        original(self, epoch, logs)
        logs["val_mean_iou"] = 0.25

    monkeypatch.setattr(ValidationScores, "on_epoch_end", stalled)
    metrics = train(small_config(tmp_path / "run", epochs=6, patience=1))
    assert metrics["epochs_run"] == 2
    fixed = train(small_config(tmp_path / "fixed", model="lean", epochs=3, patience=0))
    assert fixed["epochs_run"] == 3  # patience 0: a fixed schedule, never stopped early


def crash_after_epoch(monkeypatch, epoch_index: int):
    """Makes training raise once epoch `epoch_index` (0-based) is logged; returns the undo."""
    original = keras.callbacks.CSVLogger.on_epoch_end

    def crash(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == epoch_index:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", crash)
    return lambda: monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", original)


@pytest.mark.slow
def test_a_resumed_run_is_the_run_it_would_have_been(tmp_path, monkeypatch):
    settings = {"model": "lean", "epochs": 4, "patience": 3, "photometric": True}
    train(small_config(tmp_path / "whole", **settings))
    undo = crash_after_epoch(monkeypatch, 1)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(small_config(run_dir, **settings))
    # The crash came after epoch 2's history row, before its checkpoint: epoch 2 is redone.
    assert json.loads((run_dir / "last_epoch.json").read_text())["epoch"] == 1
    assert len(history(run_dir)) == 2
    undo()

    # The weights come from the checkpoint, so a start file that has since gone is not read.
    earlier = sum(float(row["epoch_seconds"]) for row in history(run_dir)[:1])  # the epoch the checkpoint holds
    metrics = train(small_config(run_dir, **settings, resume=True, init_weights=str(tmp_path / "gone.keras")))
    assert metrics["epochs_run"] == 4
    # The wall time counts the epoch trained before the crash, not only the resumed three.
    assert metrics["wall_time_s"] >= earlier + sum(float(row["epoch_seconds"]) for row in history(run_dir)[1:]) - 0.1
    resumed, whole = history(run_dir), history(tmp_path / "whole")
    assert [row["epoch"] for row in resumed] == ["0", "1", "2", "3"]
    for column in ("loss", "learning_rate", "val_mean_iou"):
        np.testing.assert_allclose(
            [float(row[column]) for row in resumed], [float(row[column]) for row in whole], rtol=1e-3, atol=1e-4,
            err_msg=column,
        )


@pytest.mark.slow
def test_a_weight_average_run_validates_and_saves_the_average_and_resumes_as_it_would_have_run(tmp_path, monkeypatch):
    settings = {"model": "lean", "epochs": 3, "ema_decay": 0.999999}  # the average stays near the first step's weights
    whole = train(small_config(tmp_path / "whole", **settings))
    undo = crash_after_epoch(monkeypatch, 1)  # after epoch 2's history row: last.keras holds epoch 1
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(small_config(run_dir, **settings))
    undo()
    # Saved mid-run, the checkpoint holds the average in the model and the weights being
    # trained in the optimizer: after 4 steps, the trained ones are further from the start.
    checkpoint = keras.models.load_model(run_dir / "last.keras")
    keras.utils.set_random_seed(0)
    start = build_model("lean", num_classes=4, input_shape=(64, 64, 3))
    averages = [variable for variable in checkpoint.optimizer.variables if variable.path.endswith("_average")]
    assert len(averages) == len(checkpoint.trainable_variables)

    def distance(variables):
        return sum(float(np.abs(keras.ops.convert_to_numpy(v) - keras.ops.convert_to_numpy(s)).sum())
                   for v, s in zip(variables, start.trainable_variables))

    assert distance(checkpoint.trainable_variables) < 0.5 * distance(averages)

    metrics = train(small_config(run_dir, **settings, resume=True))
    assert metrics["epochs_run"] == 3
    for column in ("loss", "val_mean_iou"):
        np.testing.assert_allclose(
            [float(row[column]) for row in history(run_dir)],
            [float(row[column]) for row in history(tmp_path / "whole")], rtol=1e-3, atol=1e-4, err_msg=column,
        )
    assert whole["last_val_mean_iou"] == pytest.approx(metrics["last_val_mean_iou"], abs=1e-4)


@pytest.mark.slow
def test_the_first_run_on_unprepared_data_starts_from_the_same_weights(tmp_path, monkeypatch):
    # The first run builds the dataset, which draws from the global generators; the second
    # finds it prepared. Both must start from the seed's weights and so train alike.
    monkeypatch.setenv("KERAS_DECONVNET_TFDS_DIR", str(tmp_path / "fresh_cache"))
    settings = {"model": "lean", "epochs": 1}
    train(small_config(tmp_path / "first", **settings))
    train(small_config(tmp_path / "second", **settings))
    first, second = history(tmp_path / "first"), history(tmp_path / "second")
    np.testing.assert_allclose(float(first[0]["loss"]), float(second[0]["loss"]), rtol=1e-4)


def test_early_stopping_goes_on_from_the_interrupted_runs_state():
    from keras_deconvnet.training.callbacks import ResumableEarlyStopping

    stopping = ResumableEarlyStopping(patience=3, previous=[0.30, 0.50, 0.40, None, 0.45])
    stopping.on_train_begin()
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (0.50, 1, 2)
    fresh = ResumableEarlyStopping(patience=3)
    fresh.on_train_begin()
    assert (fresh.best, fresh.wait) == (None, 0)


@pytest.mark.slow
def test_a_torn_checkpoint_falls_back_to_the_last_good_one(tmp_path, monkeypatch, capsys):
    from keras_deconvnet.training.resume import resume_point

    undo = crash_after_epoch(monkeypatch, 2)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(small_config(run_dir, epochs=4))
    undo()
    # Killed between renaming last.keras and writing last_epoch.json: the step count tells.
    state = json.loads((run_dir / "last_epoch.json").read_text())
    assert state["epoch"] == 2
    (run_dir / "last_epoch.json").write_text(json.dumps({"epoch": 1, "iterations": state["iterations"] // 2}))
    assert resume_point(run_dir).epochs_done == 2
    (run_dir / "last_epoch.json").write_text("{torn")  # then history.csv's rows count
    assert resume_point(run_dir).epochs_done == 3  # the crash came after epoch 3's row
    (run_dir / "last_epoch.json").write_text(json.dumps(state))

    best_epoch = json.loads((run_dir / "best_epoch.json").read_text())["epoch"]
    content = (run_dir / "last.keras").read_bytes()
    (run_dir / "last.keras").write_bytes(content[: len(content) // 2])  # killed mid-write, by another tool
    capsys.readouterr()
    metrics = train(small_config(run_dir, epochs=4, resume=True))
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "last.keras" in warning[0] and "resuming from" in warning[0] and "best.keras" in warning[0]
    assert metrics["epochs_run"] == 4
    assert [row["epoch"] for row in history(run_dir)] == [str(epoch) for epoch in range(4)]
    assert best_epoch in (1, 2)


@pytest.mark.slow
def test_a_run_killed_in_its_first_epoch_starts_again_and_torn_checkpoints_are_one_line(tmp_path, monkeypatch, capsys):
    undo = crash_after_epoch(monkeypatch, 0)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(small_config(run_dir, epochs=2))
    undo()
    assert not (run_dir / "last.keras").exists() and len(history(run_dir)) == 1
    metrics = train(small_config(run_dir, epochs=2, resume=True))
    assert "has no checkpoint yet: starting it from epoch 1" in capsys.readouterr().out
    assert metrics["epochs_run"] == 2 and [row["epoch"] for row in history(run_dir)] == ["0", "1"]

    (run_dir / "metrics.json").unlink()  # as if it had stopped again, with both files torn
    for name in ("last.keras", "best.keras"):
        (run_dir / name).write_bytes(b"torn")
    with pytest.raises(UsageError, match="cannot resume .*start a new run"):
        train(small_config(run_dir, epochs=2, resume=True))


@pytest.mark.slow
def test_a_run_folder_that_is_a_file_or_has_finished_is_one_line_before_any_work(trained_run, tmp_path):
    run_dir, _ = trained_run
    (tmp_path / "a_file").write_text("")
    with pytest.raises(UsageError, match="--output-dir .*a_file is a file, not a folder"):
        train(small_config(tmp_path / "a_file"))
    with pytest.raises(UsageError, match=f"has finished.*--init-weights {run_dir / 'last.keras'}"):
        train(small_config(run_dir, resume=True))


def test_a_run_stopped_before_any_history_row_can_be_resumed(tmp_path):
    from keras_deconvnet.training.resume import monitored_history

    # Ctrl-C in the first epoch leaves history.csv empty (CSVLogger opens it at the start).
    (tmp_path / "history.csv").write_text("")
    assert monitored_history(tmp_path, 0, "val_mean_iou") == []


@pytest.mark.slow
@pytest.mark.parametrize("images_every", [1, 0])  # 0: no overlays (it divided by zero once)
def test_wandb_offline_writes_a_run_folder(images_every, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    train(small_config(run_dir, epochs=1, wandb="offline", wandb_images_every=images_every))
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb"))


def test_wandb_logs_on_its_epoch_axis_with_the_rate_each_epoch_trained_with(tmp_path, monkeypatch):
    """The run summary showed `epoch 0` (the overlays' last epoch) and a learning rate of 0 (the
    rate after a schedule's last step) after a 4-epoch run."""
    import keras
    import wandb

    from keras_deconvnet.training.tracking import SegmentationImageLogger, metrics_logger

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(mode="offline", dir=str(tmp_path))
    logged = []
    monkeypatch.setattr(wandb, "log", lambda values, *args, **kwargs: logged.append(values))
    monkeypatch.setattr(run, "log", lambda values, *args, **kwargs: logged.append(values))
    images = keras.Input((8, 8, 3))
    model = keras.Model(images, keras.layers.Conv2D(2, 1)(images))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0))  # where a schedule ends
    try:
        overlay_logger = SegmentationImageLogger(run, np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8)), ["a", "b"])
        for callback in (metrics_logger(), overlay_logger):
            callback.set_model(model)
            callback.on_epoch_end(0, {"loss": 1.0, "learning_rate": 2e-3})
    finally:
        run.finish()
    metrics, overlays = logged
    assert metrics["epoch/epoch"] == 0 and metrics["epoch/learning_rate"] == 2e-3
    assert set(overlays) == {"epoch/val_predictions", "epoch/epoch"}


@pytest.mark.slow
def test_a_log_that_is_not_a_terminal_gets_one_line_an_epoch(tmp_path, capsys):
    train(small_config(tmp_path / "run", epochs=2))
    out = capsys.readouterr().out
    assert "━" not in out and "\r" not in out  # no live progress bar in a log file
    assert out.count("Epoch ") == 2


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


@pytest.mark.slow
def test_evaluate_and_predict_scripts_on_a_trained_model(trained_run, tmp_path):
    from PIL import Image

    run_dir, _ = trained_run
    done = run_script(str(SCRIPTS / "evaluate.py"), "--model", str(run_dir / "best.keras"), "--dataset", "demo", "--split", "val", "--out", str(tmp_path / "eval"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("mean IoU: ")
    assert (tmp_path / "eval" / "confusion_matrix.csv").is_file()
    assert (tmp_path / "eval" / "confusion_matrix.png").is_file()
    plain = json.loads((tmp_path / "eval" / "scores.json").read_text())
    done = run_script(str(SCRIPTS / "evaluate.py"), "--model", str(run_dir / "best.keras"), "--dataset", "demo", "--split", "val", "--tta", "flip", "--tta-scales", "0.75,1.25", "--out", str(tmp_path / "tta"))
    assert done.returncode == 0, done.stderr
    with_tta = json.loads((tmp_path / "tta" / "scores.json").read_text())
    assert plain["tta"] is None and with_tta["tta"] == {"flip": True, "scales": [0.75, 1.25]}
    assert with_tta["images"] == plain["images"] and with_tta["confusion_matrix"] != plain["confusion_matrix"]

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(images / "a.png")
    Image.fromarray(rng.integers(0, 255, (81, 40, 3), dtype=np.uint8)).save(images / "b.jpg")
    done = run_script(str(SCRIPTS / "predict.py"), "--model", str(run_dir / "best.keras"), str(images), "--out", str(tmp_path / "out"), "--tta", "flip")
    assert done.returncode == 0, done.stderr
    classes = np.asarray(Image.open(tmp_path / "out" / "b_classes.png"))
    assert classes.shape == (81, 40)
    assert classes.max() < 4
    for name in ("a_color.png", "a_overlay.png", "b_overlay.png"):
        assert (tmp_path / "out" / name).is_file()


@pytest.mark.slow
def test_evaluate_refuses_a_dataset_with_other_classes_and_predict_follows_exif(trained_run, tmp_path):
    from fixtures import write_camvid_tree
    from PIL import Image

    run_dir, _ = trained_run
    camvid = write_camvid_tree(tmp_path / "camvid")
    done = run_script(str(SCRIPTS / "evaluate.py"), "--model", str(run_dir / "best.keras"), "--dataset", "camvid", "--data-dir", str(camvid), "--split", "val", "--out", str(tmp_path / "eval"))
    assert done.returncode == 2 and "predicts 4 classes but camvid has 11" in done.stderr
    assert "Traceback" not in done.stderr
    # A 40x70 landscape photo whose EXIF says "rotate 90 degrees": its mask is 70x40.
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 70, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    photo.save(tmp_path / "photo.jpg", exif=exif)
    done = run_script(str(SCRIPTS / "predict.py"), "--model", str(run_dir / "best.keras"), str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert np.asarray(Image.open(tmp_path / "out" / "photo_classes.png")).shape == (70, 40)


@pytest.mark.slow
def test_evaluate_refuses_other_classes_before_preparing_the_dataset(trained_run, tmp_path, monkeypatch):
    from fixtures import write_camvid_tree

    from keras_deconvnet.commands import evaluate
    from keras_deconvnet.datasets import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    run_dir, _ = trained_run
    camvid = write_camvid_tree(tmp_path / "camvid")
    args = ["--model", str(run_dir / "best.keras"), "--dataset", "camvid", "--data-dir", str(camvid), "--out", str(tmp_path / "eval")]
    with pytest.raises(UsageError, match="predicts 4 classes but camvid has 11"):
        evaluate.main(evaluate.get_args_parser().parse_args(args))
    assert not list((tmp_path / "cache").rglob("*.tfrecord*"))  # nothing prepared for a model that cannot use it


@pytest.mark.slow
def test_predict_checks_its_folder_first_and_leaves_none_for_an_unreadable_image(trained_run, tmp_path):
    from keras_deconvnet.commands import predict

    run_dir, _ = trained_run
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "a_file").write_text("")

    def predict_main(image: Path, out: Path) -> str:
        args = predict.get_args_parser().parse_args([str(image), "--model", str(run_dir / "best.keras"), "--out", str(out)])
        with pytest.raises(UsageError) as caught:
            predict.main(args)
        return str(caught.value)

    assert "cannot read" in predict_main(tmp_path / "broken.png", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert "a_file is a file, not a folder" in predict_main(tmp_path / "broken.png", tmp_path / "a_file" / "out")


@pytest.mark.slow
def test_photometric_augmentation_mixing_and_another_loss_train_and_reload(tmp_path):
    from keras_deconvnet.losses import CrossEntropyLovasz

    run_dir = tmp_path / "run"
    metrics = train(small_config(run_dir, model="lean", epochs=1, photometric=True, mix="classmix", loss="ce+lovasz"))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["photometric"] is True and config["loss"] == "ce+lovasz" and config["mix"] == "classmix"
    assert np.isfinite(float(history(run_dir)[0]["loss"])) and metrics["epochs_run"] == 1
    reloaded = keras.models.load_model(run_dir / "last.keras")  # with its loss, to resume
    assert isinstance(reloaded.loss, CrossEntropyLovasz)


@pytest.mark.slow
def test_a_val_split_inside_the_train_split_is_warned_about(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(small_config(run_dir, model="lean", epochs=1, train_split="train+val"))
    assert "8 images of --val-split val are also in --train-split train+val" in capsys.readouterr().err
    assert json.loads((run_dir / "config.json").read_text())["val_images_in_train"] == 8


@pytest.mark.slow
def test_train_script_gives_one_line_errors(tmp_path):
    missing = run_script(str(SCRIPTS / "train.py"), "--dataset", "voc2012_segmentation", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "run"), "--wandb", "disabled")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "run").exists()  # nothing half-written
    bad = run_script(str(SCRIPTS / "train.py"), "--optimizer", "rmsprop")
    assert bad.returncode == 2 and "invalid choice: 'rmsprop'" in bad.stderr
    resume = run_script(str(SCRIPTS / "train.py"), "--resume", "--output-dir", str(tmp_path / "nothing"))
    assert resume.returncode == 2 and "nothing to resume" in resume.stderr


@pytest.mark.slow
def test_init_weights_starts_from_a_saved_model_at_another_input_size(trained_run):
    run_dir, _ = trained_run
    saved = keras.models.load_model(run_dir / "best.keras", compile=False)
    classes = saved.output.shape[-1]
    model = build_model("paper", num_classes=classes, input_shape=(96, 96, 3))
    load_initial_weights(model, run_dir / "best.keras")
    assert all(np.array_equal(ours, theirs) for ours, theirs in zip(model.get_weights(), saved.get_weights()))
    other = build_model("paper", num_classes=classes + 1, input_shape=(64, 64, 3))
    with pytest.raises(UsageError, match=f"'paper' model of {classes} classes whose weights do not fit 'paper' with {classes + 1} classes"):
        load_initial_weights(other, run_dir / "best.keras")
    with pytest.raises(UsageError, match="^--init-weights: model file not found"):
        load_initial_weights(model, run_dir / "missing.keras")


def strict_json(path: Path):
    """`path` parsed as a strict JSON reader would: a bare NaN or Infinity fails."""

    def refuse(constant):
        raise ValueError(f"{path.name} holds a bare {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def with_an_absent_class(scores_from_confusion):
    """`scores_from_confusion` as it is when the last class is neither in the labels nor predicted."""

    def scores(matrix):
        result = scores_from_confusion(matrix)
        result["per_class_iou"][-1] = float("nan")
        return result

    return scores


@pytest.mark.slow
def test_a_class_absent_from_val_is_null_in_every_json_file(tmp_path, monkeypatch):
    from keras_deconvnet.evaluation import scoring
    from keras_deconvnet.training import callbacks

    monkeypatch.setattr(callbacks, "scores_from_confusion", with_an_absent_class(callbacks.scores_from_confusion))
    monkeypatch.setattr(scoring, "scores_from_confusion", with_an_absent_class(scoring.scores_from_confusion))
    run_dir = tmp_path / "run"
    train(small_config(run_dir, model="lean", epochs=1))
    absent = strict_json(run_dir / "config.json")["class_names"][-1]
    assert strict_json(run_dir / "metrics.json")["best_val_per_class_iou"][absent] is None
    assert strict_json(run_dir / "best_epoch.json")[f"val_iou_{absent}"] is None
    script = load_script("evaluate")
    args = ["--model", str(run_dir / "best.keras"), "--dataset", "demo", "--split", "val[:4]", "--out", str(tmp_path / "eval")]
    script.main(script.get_args_parser().parse_args(args))
    assert strict_json(tmp_path / "eval" / "scores.json")["per_class_iou"][-1] is None


def default_sigint() -> None:
    """Run in the child before it starts: tests run in the background inherit an ignored
    SIGINT, and the script must meet Ctrl-C as it does in a user's terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_ends_training_with_one_line_naming_the_resume_command(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, str(SCRIPTS / "train.py"), "--dataset", "demo", "--model", "lean", "--input-size", "64",
               "--epochs", "1000", "--wandb", "disabled", "--output-dir", str(run_dir)]
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 300
        while not (run_dir / "config.json").is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (run_dir / "config.json").is_file(), (tmp_path / "stderr").read_text()[-2000:]
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        process.kill()  # only if it is still running
    errors = (tmp_path / "stderr").read_text()
    assert process.returncode == 130, errors[-2000:]
    assert "Traceback" not in errors
    assert errors.strip().splitlines()[-1] == (
        f"interrupted: the run in {run_dir} stops here; continue it with "
        f"python scripts/train.py --resume --output-dir {shlex.quote(str(run_dir))}"
    )


@pytest.mark.slow
def test_export_checks_a_run_on_the_data_it_trained_on(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    script = load_script("export")
    args = ["--model", str(run_dir / "best.keras"), "--out", str(tmp_path / "demo"), "--formats", "keras", "--latency-runs", "1"]
    script.main(script.get_args_parser().parse_args(args))
    # The run's own 8 validation images (its config.json's demo options), not the default demo set's.
    check_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("check: "))
    assert "check: 8 images of demo/val" in check_line
    assert "TFLite" not in check_line  # --formats keras: no TFLite threads to report


def test_a_batch_that_cannot_fit_in_memory_is_refused_at_once(tmp_path, monkeypatch):
    from keras_deconvnet.training import devices

    monkeypatch.setattr(devices, "_has_gpu", lambda: False)  # a GPU machine is left to its own errors
    run_dir = tmp_path / "huge"
    with pytest.raises(UsageError, match=r"--input-size 32000x32000 with --batch-size 2 needs at least [\d,]+ GiB"):
        train(small_config(run_dir, input_size=(32000, 32000), batch_size=2))
    assert not run_dir.exists()
