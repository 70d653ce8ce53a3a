"""A per-stage table of a model: output shape and parameters, like the paper's Table I."""

import keras


def stage_rows(model: keras.Model) -> list[tuple[str, tuple, int]]:
    """(stage name, output shape without batch, parameters) for each top-level layer.

    Multi-output layers (pooling with switches) report their first output.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        output = layer.output[0] if isinstance(layer.output, (list, tuple)) else layer.output
        rows.append((layer.name, tuple(output.shape[1:]), layer.count_params()))
    return rows


def format_stage_table(model: keras.Model) -> str:
    """The stage table as Markdown, ending with the total parameter count."""
    lines = [
        f"{model.name}: input {tuple(model.input.shape[1:])}",
        "",
        "| stage | output (H, W, C) | parameters |",
        "|---|---|---:|",
    ]
    for name, shape, params in stage_rows(model):
        lines.append(f"| {name} | {shape} | {params:,} |")
    lines.append(f"| **total** | | **{model.count_params():,}** |")
    return "\n".join(lines)
