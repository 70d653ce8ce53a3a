"""`float32_model`: a model trained under a mixed-precision policy, rebuilt to compute in float32.

`--mixed-precision` trains with `mixed_bfloat16` (CPU) or `mixed_float16` (GPU): the weights
are float32, but each layer computes in the half type and saves that policy in its config.
Exported as is, the graph computes in half precision while the metadata says float32, and
TFLite's converter needs Flex ops for bfloat16 convolutions. Deployment files are therefore
written from the same architecture and weights with every layer's policy set to float32.
"""

import keras


def _float32_policies(config):
    """`config` with every mixed dtype policy replaced by float32, nested configs included."""
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and str(config.get("config", {}).get("name", "")).startswith("mixed_"):
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _float32_policies(value) for key, value in config.items()}


def compute_dtypes(model: keras.Model) -> set[str]:
    """The compute dtypes of every layer of `model`, nested sub-models walked into."""
    dtypes = set()
    for layer in model.layers:
        dtypes.add(layer.dtype_policy.compute_dtype)
        if isinstance(layer, keras.Model):
            dtypes |= compute_dtypes(layer)
    return dtypes


def float32_model(model: keras.Model) -> keras.Model:
    """`model` itself if every layer computes in float32, else a float32 copy with its weights.

    Args:
        model: a functional model, possibly trained under a mixed-precision policy.

    Returns:
        A model whose layers all compute in float32, with the same weights, so that exports
        are float32 graphs (TFLite built-in ops) as their metadata says.
    """
    if compute_dtypes(model) == {"float32"}:
        return model
    config = _float32_policies(keras.saving.serialize_keras_object(model))
    rebuilt = keras.saving.deserialize_keras_object(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt
