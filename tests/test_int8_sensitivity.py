"""`int8-sensitivity`: one int8 file per candidate (quantiser x float stages), each scored class
by class against the Keras model and timed beside the float32 file, on the 32x32 model of
test_selective."""

import json

import numpy as np
import pytest
from helpers import load_script, synthetic_dataset_images
from test_selective import staged_model

from keras_deconvnet import UsageError
from keras_deconvnet.export.sensitivity import (
    Candidate,
    CandidateRow,
    default_candidates,
    format_sensitivity_table,
)


def test_the_default_candidates_are_each_quantizer_then_each_stage_alone_float():
    candidates = default_candidates(staged_model(), ["converter", "ai-edge-quantizer"])
    assert candidates == [Candidate("converter"), Candidate("ai-edge-quantizer"), Candidate("converter", ("stage",)),
                          Candidate("ai-edge-quantizer", ("stage",))]
    assert candidates[2].name == "converter, float: stage"


def test_the_table_names_the_class_each_candidate_lost_most():
    row = CandidateRow(Candidate("converter", ("stage",)), 0.5, (0.9, 0.1, np.nan), (1, 20.0), 2.0, 4.0, 100)
    table = format_sensitivity_table((0.9, 0.3, np.nan), [row], ["a", "b", "c"])
    assert "| converter, float: stage | 50.00 | -10.00 | b -20.00 | 2.00 | 4.00 | 0.50 |" in table
    assert "| b | 30.00 | 10.00 |" in table and "| c | - | - |" in table


@pytest.mark.slow
def test_the_command_scores_every_candidate_and_writes_its_figures(tmp_path, monkeypatch):
    pytest.importorskip("ai_edge_quantizer")
    staged_model().save(tmp_path / "staged.keras")
    script = load_script("int8_sensitivity")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    monkeypatch.setattr(load_script("export"), "dataset_images", synthetic_dataset_images())  # calibration
    common = ["--model", str(tmp_path / "staged.keras"), "--calibration-dataset", "demo", "--images", "2",
              "--calibration-images", "4", "--latency-runs", "1"]
    script.main(script.get_args_parser().parse_args([
        *common, "--candidates", "none;stage", "--quantizers", "converter,ai-edge-quantizer",
        "--out", str(tmp_path / "figures.json"),
    ]))
    figures = json.loads((tmp_path / "figures.json").read_text())
    made = [(c["quantizer"], c["float_layers"]) for c in figures["candidates"]]
    assert made == [("converter", []), ("ai-edge-quantizer", []), ("converter", ["stage"]),
                    ("ai-edge-quantizer", ["stage"])]
    assert all(set(c["per_class_iou"]) == {"a", "b", "c"} and c["latency_ms"] > 0 for c in figures["candidates"])
    assert figures["calibration"] == "4 images of synthetic/train" and set(figures["stage_snr_db"]) == {"stage"}


def test_the_command_refuses_a_bad_candidate_quantizer_or_out_in_one_line(tmp_path):
    staged_model().save(tmp_path / "staged.keras")
    script = load_script("int8_sensitivity")
    common = ["--model", str(tmp_path / "staged.keras"), "--calibration-dataset", "demo"]
    for flags, message in [
        (["--candidates", "none;typo"], "typo: no such layer"),
        (["--candidates", "none;;stage"], "empty candidate"),
        (["--quantizers", "nncf"], "--quantizers takes a comma-separated list of converter, ai-edge-quantizer"),
        (["--out", str(tmp_path)], "is a folder"),
    ]:
        with pytest.raises(UsageError, match=message):
            script.main(script.get_args_parser().parse_args([*common, *flags]))
