"""Weights & Biases logging that never stops a training run.

The run's config, per-epoch losses and IoUs (through `WandbMetricsLogger`), validation
images with predicted and true masks, the model summary and the best model as an artifact.
Without an API key the run is logged offline (`wandb sync` uploads it later); when W&B
cannot start, training goes on without it.
"""

import netrc
import os
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL


def has_wandb_api_key() -> bool:
    """True if an API key is set in WANDB_API_KEY or in ~/.netrc for api.wandb.ai."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def start_run(mode: str, project: str, run_dir: Path, config: dict, resume_id: str | None = None):
    """Starts a W&B run in `run_dir/wandb`, or returns None (disabled, or W&B failed).

    Args:
        mode: "online" (offline instead when no API key is set), "offline" or "disabled".
        project: the W&B project.
        run_dir: the training run's folder.
        config: everything that defines the run (flags, model, parameters, dataset).
        resume_id: the id of the run to continue, when resuming.
    """
    if mode == "disabled":
        return None
    if mode == "online" and not has_wandb_api_key():
        print("W&B: no API key set, logging offline; upload later with `wandb sync "
              f"{run_dir / 'wandb'}/offline-run-*`")
        mode = "offline"
    try:
        import wandb

        return wandb.init(
            project=project,
            dir=run_dir,
            config=config,
            mode=mode,
            id=resume_id,
            resume="allow" if resume_id else None,
            settings=wandb.Settings(init_timeout=60, console="off"),
        )
    except Exception as error:  # W&B must never stop training
        print(f"W&B: could not start ({type(error).__name__}: {error}); training without it")
        return None


class SegmentationImageLogger(keras.callbacks.Callback):
    """Logs validation images with predicted and true masks as W&B overlays.

    Args:
        run: the W&B run.
        images: float (N, H, W, 3) images 0..255.
        masks: int (N, H, W) true masks, 255 ignored.
        class_names: one name per class.
        every: log every this many epochs (and after the first), at least 1.
    """

    def __init__(self, run, images: np.ndarray, masks: np.ndarray, class_names, every: int = 5):
        super().__init__()
        self.run = run
        self.images = images
        self.masks = masks
        self.every = every
        self.class_labels = {index: name for index, name in enumerate(class_names)}
        self.class_labels[IGNORE_LABEL] = "ignore"

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every:
            return
        import wandb

        predictions = np.argmax(self.model.predict(self.images, verbose=0), axis=-1)
        overlays = [
            wandb.Image(
                image.astype(np.uint8),
                masks={
                    "prediction": {"mask_data": prediction.astype(np.uint8), "class_labels": self.class_labels},
                    "ground_truth": {"mask_data": mask.astype(np.uint8), "class_labels": self.class_labels},
                },
            )
            for image, prediction, mask in zip(self.images, predictions, self.masks)
        ]
        # On W&B's epoch axis ("epoch/epoch", as `metrics_logger` logs it), so that the run's
        # summary does not end on the epoch of the last overlays.
        self.run.log({"epoch/val_predictions": overlays, "epoch/epoch": epoch})


def metrics_logger():
    """W&B's own Keras callback: every value in the epoch logs, the learning rate as the epoch
    logs give it (the rate the epoch trained with). W&B's callback would replace it with the
    rate after the epoch's last step, which is 0 after a schedule's last epoch."""
    from wandb.integration.keras import WandbMetricsLogger

    class EpochMetricsLogger(WandbMetricsLogger):
        def on_epoch_end(self, epoch, logs=None):
            if logs and "learning_rate" in logs:
                self._get_lr = lambda: None  # the epoch logs' rate stands
            super().on_epoch_end(epoch, logs)

    return EpochMetricsLogger(log_freq="epoch")


def finish_run(run, best_model: Path, summary_file: Path, metrics: dict, artifact_name: str) -> None:
    """Saves the model summary, logs the best model as an artifact, and closes the run."""
    try:
        import wandb

        run.summary.update({key: value for key, value in metrics.items() if not isinstance(value, (list, dict))})
        run.save(str(summary_file), base_path=str(summary_file.parent), policy="now")
        if best_model.is_file():
            artifact = wandb.Artifact(artifact_name, type="model", metadata=metrics)
            artifact.add_file(str(best_model))
            run.log_artifact(artifact)
        run.finish()
    except Exception as error:  # W&B must never stop training
        print(f"W&B: could not finish the run ({type(error).__name__}: {error})")
