"""`load_model`: a `.keras` file saved from this package, with one clear line for each way a path
can be wrong."""

import zipfile
from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.models import layers  # noqa: F401 (registers the custom layers .keras files name)


def run_folder_hint(path: Path) -> str:
    """'; pass RUN/best.keras' when `path` is a training run's folder, the mistake of passing the
    run rather than one of its checkpoints; '' otherwise."""
    # The checkpoint names of `training.run_folder.RunFolder`, which comes after the models in the data flow.
    checkpoints = [path / name for name in ("best.keras", "last.keras") if (path / name).is_file()]
    return f"; {path} is a training run's folder: pass {checkpoints[0]}" if checkpoints else ""


def load_model(path: str | Path, compile: bool = True) -> keras.Model:
    """Loads a `.keras` model saved from this package (its custom layers are registered).

    Args:
        path: the `.keras` file.
        compile: restore the loss, metrics and optimizer state too (to go on training);
            False gives the bare model, which is what exports and inference need.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a .keras file{run_folder_hint(path)}")
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise UsageError(f"{path} is not a .keras file; pass a model saved with model.save(...)")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise UsageError(f"{path} is not a .keras model (a zip archive written by model.save); is it complete?")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as error:
        raise UsageError(f"could not load {path}: {error}") from error
