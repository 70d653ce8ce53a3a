"""The datasets, as TFDS builders, and `load_split`, the one loader the package uses.

`load_split` (in `loader`) registers four TFDS builders (TensorFlow is imported then, not before), each yielding
`{"image": uint8 (H, W, 3), "segmentation_mask": uint8 (H, W, 1) class indices, "file_name"}`:

- `voc2012_segmentation`: Pascal VOC 2012 `train`, `val`, and `train_aug` with SBD.
- `camvid`: CamVid in SegNet's version, from its folder (`train`, `val`, `test` if present).
- `folder`: your own images and label PNGs.
- `demo`: shapes generated in code, offline, in seconds.

Through TFDS: `tfds.load("camvid", data_dir=cache, builder_kwargs={"source_dir": folder})`.
Prepared data is cached in `$KERAS_DECONVNET_TFDS_DIR` (default `~/tensorflow_datasets`)
under a config named after the source folder and its contents, so a cache is never served
for another folder.

Without TensorFlow, `keras_deconvnet.datasets.arrays.load_arrays` reads camvid, folder and demo
splits into NumPy arrays instead.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "CACHE_ENV": "loader",
    "DATASET_NAMES": "loader",
    "cache_dir": "loader",
    "dataset_info": "loader",
    "file_names": "loader",
    "label_options": "loader",
    "load_split": "loader",
    "split_names": "loader",
    "DatasetInfo": "info",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
