import keras
import numpy as np
import pytest

from keras_deconvnet import UsageError
from keras_deconvnet.training import (
    TrainConfig,
    build_optimizer,
    learning_rate,
    median_frequency_weights,
    parse_class_weights,
    resolve_config,
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


def test_class_weights_flag():
    assert parse_class_weights("none", 3, None) is None
    assert parse_class_weights("1,2,3", 3, None) == [1.0, 2.0, 3.0]
    masks = lambda: [np.array([0] * 12 + [1] * 3 + [2])]  # frequencies 12/16, 3/16, 1/16
    full = parse_class_weights("median-frequency", 3, masks)
    np.testing.assert_allclose(full, [0.25, 1.0, 3.0])
    np.testing.assert_allclose(parse_class_weights("sqrt-median-frequency", 3, masks), np.sqrt(full), atol=1e-4)
    with pytest.raises(UsageError, match="3 comma-separated numbers"):
        parse_class_weights("1,2", 3, None)
