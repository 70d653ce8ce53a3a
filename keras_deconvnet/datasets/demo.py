"""`demo`: the TFDS builder of the generated shapes of `keras_deconvnet.datasets.demo_scenes`."""

import dataclasses
from collections.abc import Iterator

import tensorflow_datasets as tfds

from keras_deconvnet.datasets.base import SegmentationBuilder
from keras_deconvnet.datasets.demo_scenes import CLASS_NAMES, PALETTE, SPLITS, demo_example
from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.errors import UsageError
from keras_deconvnet.constants import IGNORE_LABEL


@dataclasses.dataclass
class DemoConfig(tfds.core.BuilderConfig):
    """The generator's options; the config name spells them out."""

    seed: int = 0
    num_train: int = 400
    num_val: int = 100
    image_size: int = 128


class Demo(SegmentationBuilder):
    """Shapes on textured backgrounds: 4 classes, train and val, generated from a seed."""

    name = "demo"
    OPTIONS = ("seed", "num_train", "num_val", "image_size")
    DESCRIPTION = "Circles, squares and triangles of random colours on textured backgrounds."

    def __init__(
        self,
        *,
        seed: int = 0,
        num_train: int = 400,
        num_val: int = 100,
        image_size: int = 128,
        config: DemoConfig | None = None,
        **kwargs,
    ):
        """Generates the demo set.

        Args:
            seed: any integer >= 0; the same seed gives the same examples.
            num_train: images in `train`.
            num_val: images in `val`.
            image_size: height and width, at least 32 pixels.
            config: an existing config (TFDS passes it when it unpickles a builder).
            **kwargs: TFDS's builder arguments (`data_dir`, ...).
        """
        if config is None:
            for option, value, least in (
                ("seed", seed, 0),
                ("num_train", num_train, 1),
                ("num_val", num_val, 1),
                ("image_size", image_size, 32),
            ):
                if not isinstance(value, int) or value < least:
                    raise UsageError(
                        f"demo option {option} must be an integer >= {least}, got {value!r}"
                    )
            config = DemoConfig(
                name=f"seed{seed}-train{num_train}-val{num_val}-{image_size}px",
                seed=seed,
                num_train=num_train,
                num_val=num_val,
                image_size=image_size,
            )
        super().__init__(config=config, **kwargs)

    def segmentation_info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            num_classes=len(CLASS_NAMES),
            class_names=CLASS_NAMES,
            palette=PALETTE.copy(),
            ignore_label=IGNORE_LABEL,
            splits=SPLITS,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        sizes = {"train": config.num_train, "val": config.num_val}
        return {split: self._generate_examples(split, sizes[split]) for split in SPLITS}

    def _generate_examples(self, split: str, count: int) -> Iterator[tuple[str, dict]]:
        config = self.builder_config
        for index in range(count):
            image, mask = demo_example(config.seed, split, index, config.image_size)
            file_name = f"demo_{split}_{index:05d}.png"
            yield file_name, {"image": image, "segmentation_mask": mask, "file_name": file_name}
