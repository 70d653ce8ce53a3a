"""The models `--model` names and where each is built, read without importing Keras.

`MODEL_NAMES` is the one list of them: the commands' `--help`, the recipes' checks and the
benchmark take it from here, and `build_model` imports a model's builder only when it is built.
"""

import dataclasses
import importlib
from collections.abc import Callable
from functools import partial


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Where a model is built: `keras_deconvnet.models.<module>.<function>(**options, ...)`."""

    module: str
    function: str
    options: tuple[tuple[str, object], ...] = ()


MODELS: dict[str, ModelSpec] = {
    "paper": ModelSpec("deconvnet", "build_paper_deconvnet"),
    "deconvnet_vgg16": ModelSpec("vgg16_deconvnet", "build_deconvnet_vgg16"),
    "lean": ModelSpec("lean", "build_lean_deconvnet"),
    "lean_minimalistic": ModelSpec("lean", "build_lean_deconvnet", (("minimalistic", True),)),
    "lean_context": ModelSpec("lean", "build_lean_deconvnet", (("context", True),)),
    "lraspp_small": ModelSpec("heads", "build_lraspp_small"),
    "lraspp_large": ModelSpec("heads", "build_lraspp_large"),
    "aspp_small": ModelSpec("heads", "build_aspp_small"),
    "paper_spatial": ModelSpec("deconvnet", "build_paper_deconvnet", (("code", "spatial"), ("name", "paper_spatial"))),
    "paper_skips": ModelSpec(
        "deconvnet", "build_paper_deconvnet", (("code", "spatial"), ("skips", True), ("name", "paper_skips"))
    ),
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def model_builder(name: str) -> Callable:
    """The function that builds model `name` (num_classes, input_shape, backbone_weights)."""
    spec = MODELS[name]
    function = getattr(importlib.import_module(f"keras_deconvnet.models.{spec.module}"), spec.function)
    return partial(function, **dict(spec.options)) if spec.options else function
