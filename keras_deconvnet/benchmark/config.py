"""What a benchmark run measures: the model names, the references and `BenchmarkConfig`."""

import dataclasses

from keras_deconvnet.models.registry import MODEL_NAMES as BUILT_MODELS

ENCODER = "encoder"
VGG = "deconvnet_vgg16"
MODEL_NAMES = (ENCODER, *BUILT_MODELS)
REFERENCES = (ENCODER, VGG)
TFLITE_TYPES = ("float32", "int8")
# Why the VGG16 DeconvNet has no TFLite file here.
NOT_CONVERTED = {
    VGG: "not converted: converting its 252M parameters ran a 24 GB machine out of memory "
    "(the converter was killed by the kernel)"
}
VGG_MIN_SIZE = 224  # its fc6 is a 7x7 conv over the stride-32 grid


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure and how often; `scripts/benchmark.py` fills it from its flags.

    Attributes:
        models: names from `MODEL_NAMES` ("encoder" is the bare MobileNetV3-Small encoder).
        sizes: (height, width) input sizes, multiples of 32; the first is the targets' size.
        num_classes: classes per pixel of the segmentation models.
        rounds: latency rounds; each round times every model in turn (interleaved).
        tflite_runs, keras_runs, vgg_runs: timed runs per round of a LiteRT interpreter,
            of a Keras model, and of the VGG16 DeconvNet in Keras.
        tflite_warmup, keras_warmup: untimed runs of each timer before the first round.
        threads: LiteRT CPU thread counts to time.
        calibration_images: random 0..255 images for int8 calibration.
        batch_size: training batch.
        train_steps, train_warmup: timed and untimed `train_on_batch` steps.
        vgg_train_steps: timed steps of the VGG16 DeconvNet (0: its training is skipped);
            it gets 1 warm-up step.
        seed: for weights, images and labels.
    """

    models: tuple[str, ...] = MODEL_NAMES
    sizes: tuple[tuple[int, int], ...] = ((224, 224), (352, 480))
    num_classes: int = 21
    rounds: int = 5
    tflite_runs: int = 20
    keras_runs: int = 5
    vgg_runs: int = 2
    tflite_warmup: int = 5
    keras_warmup: int = 2
    threads: tuple[int, ...] = (1, 2)
    calibration_images: int = 16
    batch_size: int = 8
    train_steps: int = 10
    train_warmup: int = 2
    vgg_train_steps: int = 2
    seed: int = 0


# A smoke run (`scripts/benchmark.py --quick`): the models the targets of `lean` need, at
# 224x224 only, few runs and steps, no VGG16 training; other fields keep their defaults.
QUICK = {
    "models": (ENCODER, "lean", VGG),
    "sizes": ((224, 224),),
    "rounds": 1,
    "tflite_runs": 5,
    "keras_runs": 2,
    "vgg_runs": 1,
    "tflite_warmup": 2,
    "keras_warmup": 1,
    "calibration_images": 4,
    "train_steps": 2,
    "train_warmup": 1,
    "vgg_train_steps": 0,
}
