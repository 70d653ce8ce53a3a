"""Package attributes imported on first use, so that importing a package stays light.

`keras_deconvnet.training` and `keras_deconvnet.export` name their public API in a dict of
name -> submodule; `--help` and the commands can then import a light submodule (presets,
format names) without the Keras- and TensorFlow-heavy rest.
"""

import importlib
from collections.abc import Callable, Mapping


def lazy_attributes(package: str, homes: Mapping[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """The `__getattr__` and `__dir__` of `package`, whose name N lives in submodule homes[N].

    Example (in a package's `__init__.py`):
        >>> __getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
    """

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
