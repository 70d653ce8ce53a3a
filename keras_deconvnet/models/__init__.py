"""The models: the paper's DeconvNet, the VGG16 DeconvNet, the lean family and the peer heads.

One job a module: `registry` (the names `--model` takes, read without Keras), `building`
(`build_model` and what is asked of a built model), `loader` (`load_model`), `layers`,
`backbone`, one module per family (`deconvnet`, `vgg16_deconvnet`, `lean`, `heads`),
`deploy` and `precision`. The names below are the public API, imported on first use.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "MODEL_NAMES": "registry",
    "BN_MOMENTUM": "building",
    "all_layers": "building",
    "build_model": "building",
    "check_input_shape": "building",
    "fits": "building",
    "model_input_size": "building",
    "resize_model": "building",
    "set_batch_norm_momentum": "building",
    "load_model": "loader",
    "run_folder_hint": "loader",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
