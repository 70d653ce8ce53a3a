"""The data path from a split's feature dicts to training and validation batches.

One job a module: `pipeline` (tf.data: label checks, augmentation, batching, mixing, a
teacher's probabilities carried along), `soft_targets` (how those probabilities are stored and
read), `augmentation` (scale, crop, flip, photometric distortion of one image and its mask),
`mixing` (ClassMix and CutMix of a batch), `mix_settings` (the mixing modes and their checks,
without TensorFlow), `numpy_pipeline` (the same steps without TensorFlow) and
`device_augmentation` (the same steps in `keras.ops`, inside a compiled step on a GPU). The
names below are the public API, imported on first use.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "EVALUATION_MODES": "pipeline",
    "evaluation_pipeline": "pipeline",
    "soft_target_file": "soft_targets",
    "split_size": "pipeline",
    "training_pipeline": "pipeline",
    "PhotometricDistortion": "augmentation",
    "random_crop": "augmentation",
    "random_flip": "augmentation",
    "random_scale": "augmentation",
    "resize_pair": "augmentation",
    "mix_batch": "mixing",
    "MIX_MODES": "mix_settings",
    "check_mix": "mix_settings",
    "EvaluationBatches": "numpy_pipeline",
    "TrainingBatches": "numpy_pipeline",
    "augment_batch": "device_augmentation",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
