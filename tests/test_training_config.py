import argparse
import sys

import keras
import numpy as np
import pytest

from helpers import load_script
from keras_deconvnet import UsageError
from keras_deconvnet.commands.cli import parse_scale_range, run
from keras_deconvnet.training import (
    TrainConfig,
    build_optimizer,
    compile_for_training,
    learning_rate,
    enet_weights,
    median_frequency_weights,
    parse_class_weights,
    resolve_config,
    train,
    validate,
)


def test_presets_set_what_tables_2_and_3_say():
    exp1 = resolve_config("paper-exp1", {})
    assert (exp1.epochs, exp1.optimizer, exp1.schedule) == (115, "sgd", "none")
    exp2 = resolve_config("paper-exp2", {})
    assert (exp2.epochs, exp2.optimizer, exp2.schedule) == (150, "adam", "cosine")
    assert isinstance(build_optimizer(exp1, 10), keras.optimizers.SGD)
    assert isinstance(build_optimizer(exp2, 10), keras.optimizers.Adam)


def test_paper_presets_train_plainly_and_the_camvid_preset_is_the_chosen_recipe():
    for name in ("paper-exp1", "paper-exp2"):
        config = resolve_config(name, {})
        assert (config.loss, config.photometric) == ("cross-entropy", False)
    camvid = resolve_config("camvid", {"data_dir": "CamVid"})
    assert (camvid.model, camvid.dataset, camvid.loss, camvid.photometric) == ("lean", "camvid", "ce+lovasz", True)
    assert camvid.mix == "classmix"  # what moved the held-out street most (README)
    assert resolve_config("camvid", {"mix": "none"}).mix == "none"
    assert camvid.patience == 0  # a fixed schedule: no early stop, whatever --epochs says
    assert resolve_config("camvid", {"epochs": 150}).patience == 0


def test_explicit_flags_override_a_preset():
    config = resolve_config("paper-exp2", {"epochs": 3, "optimizer": "sgd"})
    assert (config.epochs, config.optimizer, config.schedule) == (3, "sgd", "cosine")


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(UsageError, match="unknown preset 'exp3'"):
        resolve_config("exp3", {})


def test_cosine_schedule_decays_over_the_whole_run_after_warmup():
    config = TrainConfig(lr=0.1, schedule="cosine", epochs=10, warmup_epochs=2)
    schedule = learning_rate(config, steps_per_epoch=5)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(10)) == pytest.approx(0.1)  # end of warm-up: the peak
    assert float(schedule(30)) < 0.1
    assert float(schedule(50)) == pytest.approx(0.0, abs=1e-6)


class CountedTraces(keras.Model):
    """Counts its train_step calls: under fit, each is a trace of the step."""

    traces = 0

    def train_step(self, data):
        self.traces += 1
        return super().train_step(data)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts tf.function traces")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_training_step_is_traced_once(optimizer):
    # The optimizer's slots, created in the first trace, used to make TensorFlow trace it again.
    inputs = keras.Input((8, 8, 3))
    model = CountedTraces(inputs, keras.layers.Conv2D(2, 1)(inputs))
    compile_for_training(model, build_optimizer(TrainConfig(optimizer=optimizer), 2), "mse")
    model.fit(np.zeros((4, 8, 8, 3)), np.zeros((4, 8, 8, 2)), batch_size=2, epochs=2, verbose=0)
    assert model.traces == 1
    assert model.optimizer.built and int(model.optimizer.iterations) == 4


def test_median_frequency_weights_follow_segnet():
    # class 0 in both images (8 of 16 pixels), class 1 only in the first (4 of 8), class 2 in
    # the second (4 of 8); 255 ignored.
    first = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    second = np.array([0, 0, 0, 0, 2, 2, 2, 2, 255])
    weights = median_frequency_weights([first, second], 3)
    np.testing.assert_allclose(weights, [1.0, 1.0, 1.0])
    third = np.array([0, 0, 0, 0, 0, 0, 1, 1])  # class 1 rarer now
    weights = median_frequency_weights([third], 3)
    assert weights[1] > weights[0] and weights[2] == 0.0


def test_poly_schedule_warms_up_then_decays_to_zero_at_the_last_step():
    config = TrainConfig(lr=0.1, schedule="poly", epochs=10, warmup_epochs=2)
    schedule = learning_rate(config, steps_per_epoch=5)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(5)) == pytest.approx(0.05)  # half-way through the warm-up
    assert float(schedule(10)) == pytest.approx(0.1)
    assert float(schedule(30)) == pytest.approx(0.1 * 0.5**0.9)  # half-way through the decay
    assert float(schedule(50)) == pytest.approx(0.0)
    restored = type(schedule).from_config(schedule.get_config())  # saved with the optimizer in checkpoints
    assert float(restored(30)) == pytest.approx(float(schedule(30)))


def test_enet_weights_are_one_over_log_of_1_10_plus_the_pixel_share():
    masks = [np.array([0] * 12 + [1] * 3 + [2] + [255] * 4)]  # shares 12/16, 3/16, 1/16; 255 ignored
    weights = enet_weights(masks, 3)
    np.testing.assert_allclose(weights, [1 / np.log(1.10 + p) for p in (12 / 16, 3 / 16, 1 / 16)], rtol=1e-3)
    assert parse_class_weights("enet", 3, lambda: masks) == weights


def test_class_weights_flag():
    assert parse_class_weights("none", 3, None) is None
    assert parse_class_weights("1,2,3", 3, None) == [1.0, 2.0, 3.0]
    masks = lambda: [np.array([0] * 12 + [1] * 3 + [2])]  # frequencies 12/16, 3/16, 1/16
    full = parse_class_weights("median-frequency", 3, masks)
    np.testing.assert_allclose(full, [0.25, 1.0, 3.0])
    np.testing.assert_allclose(parse_class_weights("sqrt-median-frequency", 3, masks), np.sqrt(full), atol=1e-4)
    with pytest.raises(UsageError, match="3 comma-separated numbers"):
        parse_class_weights("1,2", 3, None)
    for bad in ("nan,1,1", "1,2,-3", "0,0,0", "inf,1,1"):  # a nan or negative loss, or none at all
        with pytest.raises(UsageError, match="finite numbers of at least 0, not all 0"):
            parse_class_weights(bad, 3, None)
    assert parse_class_weights("0,1,2", 3, None) == [0.0, 1.0, 2.0]  # a class left out of the loss


@pytest.mark.parametrize(
    "values, flag",
    [
        ({"epochs": 0}, "--epochs"),
        ({"epochs": -3}, "--epochs"),
        ({"lr": 0.0}, "--lr"),
        ({"lr": -1.0}, "--lr"),
        ({"lr": float("nan")}, "--lr"),
        ({"batch_size": 0}, "--batch-size"),
        ({"mix_probability": 0.0}, "--mix-probability"),
        ({"mix_probability": 1.5}, "--mix-probability"),
        ({"mix": "classmix", "batch_size": 1}, "--mix"),
        ({"scale_range": (0.0, 2.0)}, "--scale-range"),
        ({"scale_range": (2.0, 0.5)}, "--scale-range"),
        ({"scale_range": (0.5,)}, "--scale-range"),
        ({"warmup_epochs": -1}, "--warmup-epochs"),
        ({"warmup_epochs": 5, "epochs": 5}, "--warmup-epochs"),
        ({"patience": -1}, "--patience"),
        ({"weight_decay": -1e-4}, "--weight-decay"),
        ({"momentum": 1.0}, "--momentum"),
        ({"momentum": -0.1}, "--momentum"),
    ],
)
def test_out_of_range_settings_are_refused_before_a_run_folder_exists(values, flag, tmp_path):
    config = TrainConfig(**{"dataset": "demo", "wandb": "disabled", "output_dir": str(tmp_path / "run"), **values})
    with pytest.raises(UsageError, match=f"^{flag} must be "):
        train(config)
    assert not (tmp_path / "run").exists()


def test_num_classes_other_than_the_datasets_own_is_refused():
    from keras_deconvnet.training.data import prepare_data

    def config(num_classes):
        return TrainConfig(dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 32},
                           input_size=(32, 32), batch_size=4, num_classes=num_classes, data_loader="numpy")

    with pytest.raises(UsageError, match="^--num-classes 3 does not match the 4 classes of demo; the flag is for"):
        prepare_data(config(3))
    assert prepare_data(config(4)).info.num_classes == 4  # a run's saved config holds its dataset's own


def test_resume_names_the_settings_it_changes_and_refuses_another_model(tmp_path, capsys):
    import dataclasses
    import json

    from keras_deconvnet.training import load_run_config

    saved = TrainConfig(model="lean", dataset="demo", lr=2e-3, input_size=(64, 64), output_dir=str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(saved)))
    with pytest.raises(UsageError, match="^--model lraspp_small: the run in .* trains model lean, which --resume keeps"):
        load_run_config(tmp_path, {"model": "lraspp_small"})
    config = load_run_config(tmp_path, {"lr": 0.5, "input_size": (64, 64), "output_dir": f"{tmp_path}/"})
    assert config.lr == 0.5 and config.resume
    assert capsys.readouterr().err == (
        "resuming with changed settings: --lr 0.002 -> 0.5; the run will differ from an uninterrupted one\n"
    )
    load_run_config(tmp_path, {"model": "lean", "epochs": saved.epochs})  # the saved values: nothing to say
    assert capsys.readouterr().err == ""


def test_a_setting_out_of_range_names_the_preset_that_set_it():
    config = resolve_config("camvid", {"data_dir": "CamVid", "epochs": 1})
    with pytest.raises(UsageError, match=r"^--warmup-epochs must be .*, got 2 \(set by --preset camvid; pass --warmup-epochs"):
        validate(config)


def test_the_edges_of_each_range_are_accepted():
    validate(TrainConfig(epochs=1, lr=1e-9, batch_size=1, scale_range=(1.0, 1.0), warmup_epochs=0, patience=0, weight_decay=0.0, momentum=0.0, seed=0, wandb_images_every=0))
    validate(TrainConfig(seed=2**32 - 1))
    validate(resolve_config("camvid", {"data_dir": "CamVid"}))  # every preset is in range
    validate(resolve_config("paper-exp1", {}))


def test_scale_range_flag_needs_two_numbers():
    assert parse_scale_range("0.5,2") == (0.5, 2.0)
    for text in ("0.5", "0.5,1,2", "a,b", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="two numbers MIN,MAX"):
            parse_scale_range(text)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "error: --epochs must be at least 1, got 0"),
        (["--lr", "-1"], "error: --lr must be above 0, got -1.0"),
        (["--batch-size", "0"], "error: --batch-size must be at least 1, got 0"),
        (["--scale-range", "0.5"], "argument --scale-range: expected two numbers MIN,MAX such as 0.5,2.0, got '0.5'"),
        (["--scale-range", "0,2"], "error: --scale-range must be two numbers MIN,MAX with 0 < MIN <= MAX, got 0.0,2.0"),
        (["--warmup-epochs", "3", "--epochs", "3"], "error: --warmup-epochs must be at least 0 and below --epochs, got 3"),
        (["--patience", "-1"], "error: --patience must be at least 0 (0 turns early stopping off), got -1"),
        (["--weight-decay", "-0.1"], "error: --weight-decay must be at least 0, got -0.1"),
        (["--momentum", "1"], "error: --momentum must be in [0, 1), got 1.0"),
        (["--seed", "-1"], "error: --seed must be from 0 to 4294967295 (NumPy's seed range), got -1"),
        (["--seed", "4294967296"], "error: --seed must be from 0 to 4294967295 (NumPy's seed range), got 4294967296"),
        (["--wandb-images-every", "-1"], "error: --wandb-images-every must be at least 0 (0 logs no overlays), got -1"),
    ],
)
def test_train_script_refuses_out_of_range_flags_in_one_line(flags, message, tmp_path, monkeypatch, capsys):
    script = load_script("train")
    run_dir = tmp_path / "run"
    # A short run, so that a flag this test expects refused but the script accepts fails fast.
    base = ["train.py", "--dataset", "demo", "--epochs", "1", "--input-size", "32", "--wandb", "disabled"]
    monkeypatch.setattr(sys, "argv", [*base, "--output-dir", str(run_dir), *flags])
    with pytest.raises(SystemExit) as exit_info:
        run(script.main, script.get_args_parser())
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not run_dir.exists()


def test_a_run_folder_names_its_files_and_reads_its_config_in_one_line(tmp_path):
    from keras_deconvnet.training.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    assert not folder.has_started() and not folder.has_finished()
    with pytest.raises(UsageError, match="holds no training run: it has no config.json"):
        folder.read_config()
    folder.path.mkdir()
    folder.config.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read .*config.json"):
        folder.read_config()
    folder.config.write_text('{"model": "lean"}')
    assert folder.read_config() == {"model": "lean"} and folder.has_started()
    assert RunFolder.of_checkpoint(folder.best_model) == folder
    assert [path.name for path in folder.final_files] == [
        "config.json", "best.keras", "last.keras", "best_epoch.json", "history.csv", "curves.png"
    ]
