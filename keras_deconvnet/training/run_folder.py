"""A training run's folder: the one place that names its files.

    RUN/
      config.json        the settings (`TrainConfig`) and what the run found (classes, weights, commit)
      best.keras         the best epoch by val mean IoU, with optimizer state; best_epoch.json its logs
      last.keras         the last finished epoch, with optimizer state; last_epoch.json how many
      history.csv        one row an epoch; curves.png drawn from it
      model_summary.txt, tensorboard/, wandb_run_id (W&B's run, resumed with it)
      teacher_probabilities/   (a distillation run) the teacher's, made once
      metrics.json       written last: the run has finished
      recipe.toml        (a recipe run) its recipe; recipe.json how it was started; each stage in RUN/N-NAME/

Training, resuming, recipes, export (which reads the config beside a checkpoint) and the curves
find the files through `RunFolder`, so a file renamed here is renamed everywhere.
"""

import dataclasses
import json
from pathlib import Path

from keras_deconvnet.errors import UsageError


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The files of the run in `path` (which need not exist yet)."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def best_model(self) -> Path:
        return self.path / "best.keras"

    @property
    def last_model(self) -> Path:
        return self.path / "last.keras"

    @property
    def best_epoch(self) -> Path:
        return self.path / "best_epoch.json"

    @property
    def last_epoch(self) -> Path:
        return self.path / "last_epoch.json"

    @property
    def history(self) -> Path:
        return self.path / "history.csv"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def model_summary(self) -> Path:
        return self.path / "model_summary.txt"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def wandb_run_id(self) -> Path:
        return self.path / "wandb_run_id"

    @property
    def teacher_probabilities(self) -> Path:
        return self.path / "teacher_probabilities"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def recipe(self) -> Path:
        return self.path / "recipe.toml"

    @property
    def recipe_state(self) -> Path:
        return self.path / "recipe.json"

    @property
    def final_files(self) -> tuple[Path, ...]:
        """What a recipe run copies from its last stage to its own folder."""
        return (self.config, self.best_model, self.last_model, self.best_epoch, self.history, self.curves)

    def has_started(self) -> bool:
        """A run (or a recipe run) has written its settings here."""
        return self.config.is_file() or self.recipe_state.is_file()

    def has_finished(self) -> bool:
        return self.metrics.is_file()

    def read_config(self) -> dict:
        """config.json as written by the run.

        Raises:
            UsageError: there is none, or it is not JSON.
        """
        try:
            return json.loads(self.config.read_text())
        except FileNotFoundError:
            raise UsageError(f"{self.path} holds no training run: it has no config.json") from None
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read {self.config}: {error}") from None

    @classmethod
    def of_checkpoint(cls, model_path: str | Path) -> "RunFolder":
        """The run folder a checkpoint (`RUN/best.keras`, `RUN/last.keras`) sits in."""
        return cls(Path(model_path).parent)
