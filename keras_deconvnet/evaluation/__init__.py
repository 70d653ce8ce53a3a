"""Measuring a model: metrics from one confusion matrix, test-time augmentation, a split's scores,
and the experiment records the documentation's tables are made from.

One job a module: `metrics` (mean IoU, per-class IoU and pixel accuracy; the training metric),
`tta` (scales, flips and sliding windows), `scoring` (`evaluate` a split, `segment` an image)
and `records` (experiment records and the tables generated from them). The names below are
the public API, imported on first use.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "SegmentationMeanIoU": "metrics",
    "confusion_matrix": "metrics",
    "mean_iou_metric": "metrics",
    "scores_from_confusion": "metrics",
    "TestTimeAugmentation": "tta",
    "check_classes": "scoring",
    "evaluate": "scoring",
    "format_scores": "scoring",
    "segment": "scoring",
    "write_confusion_matrix": "scoring",
    "load_records": "records",
    "write_tables": "records",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
