"""Distillation: the teacher's stored probabilities, their ride through the pipeline, the loss."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_pipeline import NUM_CLASSES, features_dataset, label_blocks

from keras_deconvnet import UsageError
from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.pipeline import training_pipeline
from keras_deconvnet.data.soft_targets import soft_target_file
from keras_deconvnet.evaluation.metrics import mean_iou_metric
from keras_deconvnet.losses import SegmentationCrossEntropy, build_loss
from keras_deconvnet.models import build_model
from keras_deconvnet.training import TrainConfig, train
from keras_deconvnet.training.distillation import DistillationLoss
from keras_deconvnet.training.recipe_files import parse_recipe
from keras_deconvnet.training.recipes import stage_config
from keras_deconvnet.training.run_folder import RunFolder
from keras_deconvnet.training.teacher import half_resolution, teacher_probabilities


def one_hot_targets(folder, masks, names):
    """Writes each mask's one-hot probabilities (void pixels uniform) as its soft-target file."""
    for mask, name in zip(masks, names):
        labels = mask[..., 0]
        probabilities = np.where(
            (labels == IGNORE_LABEL)[..., None], 1 / NUM_CLASSES, np.eye(NUM_CLASSES)[np.minimum(labels, NUM_CLASSES - 1)]
        )
        stored = np.round(half_resolution(probabilities) * 255).astype(np.uint8)
        (folder / soft_target_file(name)).write_bytes(stored.tobytes())


def test_the_teachers_probabilities_move_with_the_image_and_its_mask(rng, tmp_path):
    sizes = [(60, 80), (40, 96), (90, 50), (64, 64)] * 2
    images = [rng.integers(0, 256, size=(h, w, 3), dtype="uint8") for h, w in sizes]
    masks = [label_blocks(rng, h, w, block=16, borders=False) for h, w in sizes]
    one_hot_targets(tmp_path, masks, [f"image_{index}.jpg" for index in range(len(masks))])
    plain, distilled = (
        training_pipeline(
            features_dataset(images, masks), num_classes=NUM_CLASSES, ignore_label=255, input_size=(64, 64),
            batch_size=4, scale_range=(0.5, 1.5), photometric=None, mix="classmix", seed=3, soft_targets=soft,
        )
        for soft in (None, str(tmp_path))
    )
    for (plain_images, plain_masks), (images_out, targets) in zip(plain, distilled):
        assert images_out.shape == plain_images.shape and targets.shape == (*plain_masks.shape, 1 + NUM_CLASSES)
        np.testing.assert_allclose(images_out.numpy(), plain_images.numpy(), atol=1e-3)
        np.testing.assert_array_equal(targets[..., 0].numpy(), plain_masks.numpy())  # the same draws
        labels, probabilities = plain_masks.numpy(), targets[..., 1:].numpy()
        labelled = labels != IGNORE_LABEL
        assert np.mean(probabilities.argmax(-1)[labelled] == labels[labelled]) > 0.9
        padded = probabilities.sum(-1) < 0.5
        assert padded.any() and np.all(labels[padded] == IGNORE_LABEL)  # the crop's padding has no teacher


def test_the_teachers_probabilities_are_not_colour_distorted(rng, tmp_path):
    images = [rng.integers(0, 256, size=(64, 64, 3), dtype="uint8") for _ in range(4)]
    masks = [label_blocks(rng, 64, 64, block=16, borders=False) for _ in range(4)]
    one_hot_targets(tmp_path, masks, [f"image_{index}.jpg" for index in range(4)])
    from keras_deconvnet.data.augmentation import PhotometricDistortion

    _, targets = next(iter(training_pipeline(
        features_dataset(images, masks), num_classes=NUM_CLASSES, ignore_label=255, input_size=(64, 64),
        batch_size=4, scale_range=(1.0, 1.0), photometric=PhotometricDistortion(), seed=0, soft_targets=str(tmp_path),
    )))
    np.testing.assert_allclose(targets[..., 1:].numpy().sum(-1), 1.0, atol=0.05)


def test_soft_targets_refuse_a_padding_other_than_zero(rng, tmp_path):
    with pytest.raises(UsageError, match="pad_value=0"):
        training_pipeline(
            features_dataset([], []), num_classes=NUM_CLASSES, ignore_label=255, input_size=(32, 32),
            batch_size=1, pad_value=128.0, soft_targets=str(tmp_path), size=4,
        )


def test_half_resolution_averages_blocks_and_keeps_an_odd_edge():
    probabilities = np.arange(5 * 3 * 2, dtype=float).reshape(5, 3, 2)
    half = half_resolution(probabilities)
    assert half.shape == (3, 2, 2)
    np.testing.assert_allclose(half[0, 0], probabilities[:2, :2].mean(axis=(0, 1)))
    np.testing.assert_allclose(half[2, 1], probabilities[4, 2])


def random_logits(rng, shape=(2, 8, 8, NUM_CLASSES)):
    return rng.normal(size=shape).astype("float32")


def test_distillation_loss_is_the_hard_loss_on_plain_labels_and_without_a_teacher(rng):
    logits = random_logits(rng)
    labels = rng.integers(0, NUM_CLASSES, size=logits.shape[:3]).astype("float32")
    hard = SegmentationCrossEntropy()
    loss = DistillationLoss(hard, temperature=2.0, weight=0.3)
    np.testing.assert_allclose(float(loss(labels, logits)), float(hard(labels, logits)), rtol=1e-5)
    no_teacher = np.concatenate([labels[..., None], np.zeros(logits.shape, "float32")], -1)
    np.testing.assert_allclose(float(loss(no_teacher, logits)), 0.7 * float(hard(labels, logits)), rtol=1e-5)


def test_distillation_loss_is_zero_where_the_student_agrees_and_pulls_it_towards_the_teacher(rng):
    logits = random_logits(rng)
    labels = np.full(logits.shape[:3], IGNORE_LABEL, "float32")  # the teacher's term alone
    agreeing = np.concatenate([labels[..., None], keras.ops.convert_to_numpy(keras.ops.softmax(logits))], -1)
    loss = DistillationLoss(SegmentationCrossEntropy(), temperature=3.0, weight=1.0)
    assert float(loss(agreeing, logits)) == pytest.approx(0.0, abs=1e-4)
    teacher = np.eye(NUM_CLASSES, dtype="float32")[rng.integers(0, NUM_CLASSES, size=logits.shape[:3])]
    targets = np.concatenate([labels[..., None], teacher], -1)
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(targets, variable)
    stepped = variable - 10.0 * tape.gradient(value, variable)
    assert float(loss(targets, stepped)) < float(value)


def test_distillation_loss_saves_and_loads_with_its_hard_loss():
    loss = DistillationLoss(build_loss("ce+lovasz", [1.0, 2.0]), temperature=4.0, weight=0.25)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (restored.temperature, restored.weight) == (4.0, 0.25)
    assert restored.hard_loss.get_config() == loss.hard_loss.get_config()


def test_mean_iou_scores_the_label_channel_of_distillation_targets(rng):
    logits = random_logits(rng)
    labels = rng.integers(0, NUM_CLASSES, size=logits.shape[:3]).astype("float32")
    plain, packed = mean_iou_metric(NUM_CLASSES), mean_iou_metric(NUM_CLASSES)
    plain.update_state(labels, logits)
    packed.update_state(np.concatenate([labels[..., None], np.ones(logits.shape, "float32")], -1), logits)
    assert float(packed.result()) == pytest.approx(float(plain.result()))


def teacher_model(path, num_classes=4):
    keras.utils.set_random_seed(0)
    build_model("lean", num_classes=num_classes, input_shape=(64, 64, 3)).save(path)
    return path


def small_split(count=3, size=(40, 52)):
    images = np.random.default_rng(0).integers(0, 256, size=(count, *size, 3), dtype=np.uint8)
    return tf.data.Dataset.from_tensor_slices({
        "image": images, "file_name": tf.constant([f"seq/frame_{i}.png" for i in range(count)]),
    })


class SplitInfo:
    name, num_classes = "demo", 4


@pytest.mark.slow
def test_the_teachers_probabilities_are_made_once_and_remade_for_another_teacher(tmp_path, monkeypatch):
    config = TrainConfig(teacher=str(teacher_model(tmp_path / "teacher.keras")), teacher_tta_scales=(1.0,), dataset="demo")
    folder = teacher_probabilities(config, small_split(), SplitInfo(), tmp_path / "run")
    assert folder == RunFolder(tmp_path / "run").teacher_probabilities and not list((tmp_path / "run").glob(".*"))
    stored = np.frombuffer((folder / "seq__frame_0.png.u8").read_bytes(), np.uint8).reshape(20, 26, 4)
    assert abs(stored.astype(int).sum(-1) - 255).max() <= 4  # probabilities, 255 = 1
    assert json.loads((folder / "manifest.json").read_text())["images"] == 3

    def no_teacher_load(*args, **kwargs):
        raise AssertionError("the stored probabilities should have been reused")

    monkeypatch.setattr("keras_deconvnet.training.teacher.load_model", no_teacher_load)
    assert teacher_probabilities(config, small_split(), SplitInfo(), tmp_path / "run") == folder
    monkeypatch.undo()
    flipped = TrainConfig(**{**config.__dict__, "teacher_tta": "flip"})
    teacher_probabilities(flipped, small_split(), SplitInfo(), tmp_path / "run")
    assert json.loads((folder / "manifest.json").read_text())["made_by"]["views"]["flip"] is True


@pytest.mark.slow
def test_a_teacher_of_other_classes_or_no_file_is_one_line(tmp_path):
    other = TrainConfig(teacher=str(teacher_model(tmp_path / "teacher.keras", num_classes=3)))
    with pytest.raises(UsageError, match="predicts 3 classes but demo has 4"):
        teacher_probabilities(other, small_split(), SplitInfo(), tmp_path / "run")
    with pytest.raises(UsageError, match="no such file"):
        teacher_probabilities(TrainConfig(teacher=str(tmp_path / "none.keras")), small_split(), SplitInfo(), tmp_path)


@pytest.mark.slow
def test_a_run_with_a_teacher_trains_and_its_checkpoint_reloads_for_resuming(tmp_path):
    from keras_deconvnet.models import load_model

    config = TrainConfig(
        model="lean", dataset="demo", dataset_options={"num_train": 8, "num_val": 4, "image_size": 64},
        input_size=(64, 64), batch_size=4, epochs=1, wandb="disabled", output_dir=str(tmp_path / "run"),
        teacher=str(teacher_model(tmp_path / "teacher.keras")), teacher_tta_scales=(1.0,), mix="classmix",
    )
    metrics = train(config)
    assert metrics["epochs_run"] == 1 and (RunFolder(tmp_path / "run").teacher_probabilities / "manifest.json").is_file()
    loss = load_model(tmp_path / "run" / "last.keras").loss
    assert isinstance(loss, DistillationLoss) and loss.weight == config.distill_weight


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"distill_weight": 1.5}, "--distill-weight must be in"),
        ({"distill_temperature": 0.0}, "--distill-temperature must be above 0"),
        ({"teacher": "t.keras", "data_loader": "numpy"}, "--teacher must be used with --data-loader tf"),
        ({"teacher_tta_scales": ()}, "--teacher-tta-scales must be positive"),
    ],
)
def test_distillation_settings_out_of_range_are_one_line(settings, message):
    from keras_deconvnet.training.config import validate

    with pytest.raises(UsageError, match=message):
        validate(TrainConfig(**settings))


def test_a_recipe_sets_the_teacher_and_its_views(tmp_path):
    text = (
        '[settings]\nmodel = "lean"\ndataset = "demo"\nteacher = "t.keras"\nteacher_tta_scales = [1.0, 1.5]\n'
        '[[stages]]\nname = "one"\nepochs = 2\ndistill_weight = 0.7\n'
    )
    recipe = parse_recipe(text, tmp_path / "r.toml")
    config = stage_config(recipe, 0, {}, tmp_path / "run")
    assert (config.teacher, config.teacher_tta_scales, config.distill_weight) == ("t.keras", (1.0, 1.5), 0.7)
    bad = parse_recipe(text.replace("[1.0, 1.5]", '"1.0"'), tmp_path / "r.toml")
    with pytest.raises(UsageError, match="stage 'one': teacher_tta_scales must be an array of numbers"):
        stage_config(bad, 0, {}, tmp_path / "run")
