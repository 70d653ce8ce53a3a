"""The label conventions every stage shares."""

IGNORE_LABEL = 255
"""Pixels with this label count in neither the loss nor the metrics (VOC's object borders).
Every dataset's own ignore label is mapped to it by the pipeline."""
