"""The names and defaults the commands' flags offer, copied here so that building a parser (and
so `--help`) imports neither Keras nor TensorFlow: the modules they come from import Keras.

Each is the value of the name in its comment; tests/test_commands.py checks that they agree,
so a change there fails the tests until it is made here too. `MIX_MODES` is imported instead:
`keras_deconvnet.mix_settings` imports neither.
"""

from keras_deconvnet.mix_settings import MIX_MODES  # noqa: F401 (offered to the parsers from here)

# keras_deconvnet.models.MODEL_BUILDERS, in its order
MODEL_NAMES = (
    "paper", "deconvnet_vgg16", "lean", "lean_minimalistic", "lean_context", "lraspp_small",
    "lraspp_large", "aspp_small", "paper_spatial", "paper_skips",
)
LOSS_NAMES = ("cross-entropy", "ohem", "lovasz", "ce+lovasz")  # keras_deconvnet.losses.LOSS_NAMES
WANDB_MODES = ("online", "offline", "disabled")  # keras_deconvnet.tracking.WANDB_MODES
EVALUATION_MODES = ("resize", "original")  # keras_deconvnet.evaluation.EVALUATION_MODES
EXPORT_FORMATS = ("keras", "saved_model", "tflite", "onnx")  # keras_deconvnet.export.FORMATS
DEFAULT_EXPORT_FORMATS = ("keras", "saved_model", "tflite")  # keras_deconvnet.export.DEFAULT_FORMATS
TFLITE_TYPES = ("float32", "float16", "int8")  # keras_deconvnet.export.TFLITE_TYPES
INT8_QUANTIZERS = ("converter", "ai-edge-quantizer")  # keras_deconvnet.export.INT8_QUANTIZERS
INT8_OUTPUTS = ("int8", "float", "classes")  # keras_deconvnet.export.INT8_OUTPUTS
INT8_MAX_CLASS_DROP = 3.0  # keras_deconvnet.export.check.MAX_CLASS_DROP["tflite_int8"]

# keras_deconvnet.benchmark: ENCODER, VGG, dataclasses.asdict(BenchmarkConfig()) and QUICK
ENCODER = "encoder"
VGG = "deconvnet_vgg16"
BENCHMARK_DEFAULTS = {
    "models": (ENCODER, *MODEL_NAMES),
    "sizes": ((224, 224), (352, 480)),
    "num_classes": 21,
    "rounds": 5,
    "tflite_runs": 20,
    "keras_runs": 5,
    "vgg_runs": 2,
    "tflite_warmup": 5,
    "keras_warmup": 2,
    "threads": (1, 2),
    "calibration_images": 16,
    "batch_size": 8,
    "train_steps": 10,
    "train_warmup": 2,
    "vgg_train_steps": 2,
    "seed": 0,
}
BENCHMARK_QUICK = {
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
