"""The training and validation batches of a run, through tf.data or, without TensorFlow, NumPy.

`--data-loader tf` reads the TFDS builders through `keras_deconvnet.data.pipeline`; `numpy` reads the
source files into memory (`keras_deconvnet.datasets.arrays`) and batches them with
`keras_deconvnet.data.numpy_pipeline`, so Keras on JAX trains on a machine without
TensorFlow. `auto` takes tf.data when TensorFlow is installed.
"""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.errors import UsageError

DATA_LOADERS = ("auto", "tf", "numpy", "device")  # device: `device_loop`, the data on the accelerator


@dataclasses.dataclass
class TrainingData:
    """The batched splits and what the model needs to know about them.

    `train` is an endless stream of epochs from the run's first epoch on (each epoch's order
    and augmentation fixed by the seed and the epoch number), so `model.fit` takes
    `steps_per_epoch` batches an epoch and a resumed run sees what it would have seen.
    """

    train: object  # tf.data.Dataset or keras.utils.PyDataset of (images, masks)
    val: object
    info: DatasetInfo
    steps_per_epoch: int
    training_masks: object  # () -> iterable of masks, for class weights
    val_images_in_train: int  # validation images the model also trains on
    val_sample: object  # () -> (images, masks): 4 validation examples, for W&B overlays


def has_tensorflow() -> bool:
    """True if TensorFlow can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a broken or deliberately hidden installation
        return False


def resolve_loader(name: str) -> str:
    """"tf" or "numpy" for `--data-loader` `name` ("auto": tf when TensorFlow is installed)."""
    if name not in DATA_LOADERS:
        raise UsageError(f"unknown data loader '{name}'; choose one of: {', '.join(DATA_LOADERS)}")
    if name == "auto":
        return "tf" if has_tensorflow() else "numpy"
    if name == "tf" and not has_tensorflow():
        raise UsageError("--data-loader tf needs TensorFlow, which is not installed; use --data-loader numpy")
    return name


def prepare_data(config, first_epoch: int = 0, run_dir: Path | None = None) -> TrainingData:
    """Loads the train and validation splits of a `TrainConfig` and builds their batches,
    the training stream starting at `first_epoch` (a resumed run's next epoch). A run with a
    teacher keeps its probabilities in `run_dir` (`keras_deconvnet.training.teacher`)."""
    from keras_deconvnet.datasets import dataset_info, label_options

    if config.dataset == "folder" and config.num_classes is None:
        raise UsageError("--dataset folder needs --num-classes (and --ignore-label if not 255)")
    options = {
        **config.dataset_options,
        **label_options(config.dataset, config.num_classes, config.ignore_label),
    }
    if config.dataset != "folder" and config.num_classes is not None:  # a folder's are the flag's own
        classes = dataset_info(config.dataset, config.data_dir, **options).num_classes
        if config.num_classes != classes:
            raise UsageError(
                f"--num-classes {config.num_classes} does not match the {classes} classes of "
                f"{config.dataset}; the flag is for --dataset folder, the other datasets know their classes"
            )
    if resolve_loader(config.data_loader) == "tf":
        return _tf_data(config, options, first_epoch, run_dir)
    if config.teacher is not None:
        raise UsageError("--teacher needs the tf.data loader (TensorFlow installed, --data-loader tf or auto)")
    return _numpy_data(config, options, first_epoch)


def _augmentation(config) -> dict:
    return {
        "input_size": tuple(config.input_size),
        "batch_size": config.batch_size,
        "scale_range": tuple(config.scale_range),
        "mix": config.mix,
        "mix_probability": config.mix_probability,
        "seed": config.seed,
    }


def _numpy_data(config, options: dict, first_epoch: int) -> TrainingData:
    from keras_deconvnet.data.numpy_pipeline import EvaluationBatches, TrainingBatches
    from keras_deconvnet.datasets.arrays import load_arrays

    train_arrays, info = load_arrays(config.dataset, config.train_split, config.data_dir, **options)
    val_arrays, _ = load_arrays(config.dataset, config.val_split, config.data_dir, **options)
    labels = {"num_classes": info.num_classes, "ignore_label": info.ignore_label}
    train = TrainingBatches(
        train_arrays.images, train_arrays.masks, **labels, **_augmentation(config), photometric=config.photometric,
        first_epoch=first_epoch,
    )
    val = EvaluationBatches(
        val_arrays.images, val_arrays.masks, **labels, input_size=tuple(config.input_size), batch_size=config.batch_size
    )

    def val_sample():
        images, masks = val[0]
        return images[:4], masks[:4]

    overlap = set(train_arrays.file_names) & set(val_arrays.file_names)
    def training_masks():  # with the ignore label as 255, as the tf.data path counts them
        for mask in train_arrays.masks:
            yield np.where(mask == info.ignore_label, IGNORE_LABEL, mask)

    return TrainingData(
        train, val, info, train.batches_per_epoch, training_masks, len(overlap), val_sample
    )


def _tf_data(config, options: dict, first_epoch: int, run_dir: Path | None) -> TrainingData:
    from keras_deconvnet.data.augmentation import PhotometricDistortion
    from keras_deconvnet.data.pipeline import evaluation_pipeline, split_size, training_pipeline
    from keras_deconvnet.datasets import file_names, load_split

    # Decoded in the pipeline: each epoch's rotation skips past elements it does not decode.
    train_split, info = load_split(config.dataset, config.train_split, config.data_dir, decode=False, **options)
    val_split, _ = load_split(config.dataset, config.val_split, config.data_dir, **options)
    labels = {"num_classes": info.num_classes, "ignore_label": info.ignore_label}
    size = split_size(train_split)  # counted once: a pass over the data where tf.data does not know
    augmentation = _augmentation(config)
    soft_targets = None
    if config.teacher is not None:
        from keras_deconvnet.training.teacher import teacher_probabilities

        decoded, _ = load_split(config.dataset, config.train_split, config.data_dir, **options)
        soft_targets = str(teacher_probabilities(config, decoded, info, Path(run_dir or config.output_dir)))
    train = training_pipeline(
        train_split,
        **labels,
        **augmentation,
        photometric=PhotometricDistortion() if config.photometric else None,
        repeat=True,
        first_epoch=first_epoch,
        size=size,
        soft_targets=soft_targets,
    )  # raises if the split cannot fill a batch, as the NumPy path's TrainingBatches does
    steps = size // config.batch_size
    val = evaluation_pipeline(
        val_split, **labels, input_size=augmentation["input_size"], batch_size=config.batch_size
    )
    if config.strategy == "multiworker":  # every worker builds the same stream; each takes its share
        import tensorflow as tf

        sharding = tf.data.Options()
        sharding.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        train, val = train.with_options(sharding), val.with_options(sharding)

    def training_masks():
        for _, masks in evaluation_pipeline(train_split, **labels, input_size=None, batch_size=1, mode="original"):
            yield masks.numpy()

    def val_sample():
        images, masks = next(iter(val.unbatch().batch(4)))
        return images.numpy(), masks.numpy()

    overlap = file_names(config.dataset, config.train_split, config.data_dir, **options) & file_names(
        config.dataset, config.val_split, config.data_dir, **options
    )
    return TrainingData(train, val, info, steps, training_masks, len(overlap), val_sample)

