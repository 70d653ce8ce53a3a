"""Package attributes imported on first use, so that importing a package stays light.

Every package of keras_deconvnet writes its `__init__.py` one way: a docstring, a `_HOMES` dict
of public name -> the submodule that defines it, `__all__`, and the `__getattr__` and `__dir__`
this module makes. `--help` and the commands can then import a light submodule (presets,
model and format names) without the Keras- and TensorFlow-heavy rest.
"""

import importlib
from collections.abc import Callable, Mapping, Sequence


def lazy_attributes(
    package: str, homes: Mapping[str, str], namespace: dict, preload: Sequence[str] = ()
) -> tuple[Callable, Callable]:
    """The `__getattr__` and `__dir__` of `package`, whose name N lives in submodule homes[N].

    `preload` names submodules imported before the first attribute is (the root package
    registers its losses first, so that a compiled .keras file loads).

    Example (in a package's `__init__.py`):
        >>> __getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
    """

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in preload:
            importlib.import_module(f"{package}.{module}")
        value = getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
