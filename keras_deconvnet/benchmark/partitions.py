"""How XNNPACK splits a TFLite file: its partitions and the ops it leaves to LiteRT's kernels.

XNNPACK's delegate takes some ops only in float32 (HARD_SWISH and GELU, for two; the int8
files write hard-swish as other ops, `models/deploy.py`), and declines int8 ADDs whose scales
it cannot rescale. Each such op cuts the graph into delegated pieces with LiteRT's own (often
reference) kernels in between: that, more than the arithmetic, can make an int8 file slower
than its float32 twin (issue 15).
"""

from collections import Counter

from keras_deconvnet.export.runtimes import litert_interpreter

# The name a delegate's node has in the interpreter's node list (XNNPACK's included).
DELEGATE_OP = "DELEGATE"


def xnnpack_partitions(content: bytes) -> dict:
    """The XNNPACK partitions of a TFLite flatbuffer, as LiteRT's Python interpreter makes them.

    The interpreter applies XNNPACK by default when its tensors are allocated: each
    connected piece of ops the delegate takes becomes one node named "DELEGATE" (one
    partition), appended to the node list after the model's own ops, which stay listed
    though they no longer run. The ops that still run are found by walking back from the
    outputs, every tensor taken from the node that now produces it (a delegate node for the
    tensors leaving a partition).

    Neither LiteRT's Python interpreter nor TensorFlow's has a public call for any of this:
    the execution plan, which the C++ API and `benchmark_model` expose, is not bound, and
    `tf.lite.experimental.Analyzer` lists the ops of the file before any delegate. So this
    reads the interpreter's node list through its private `_get_ops_details()` (marked
    experimental in ai-edge-litert 2.x); should that change, this fails loudly rather than
    counting wrong.

    Args:
        content: a TFLite flatbuffer of one subgraph.

    Returns:
        {"partitions": delegate nodes, "ops": ops in the file, "delegated_ops": ops the
        delegates took, "other_ops": ops run by LiteRT's own kernels, "other_op_names":
        {op name: count} of those}.

    Example:
        The int8 `lean` at 64x64, random weights and calibration: XNNPACK declines the ADD of
        each of its 18 hard-swishes, whose random ranges it cannot rescale.

        >>> xnnpack_partitions(Path("lean_int8.tflite").read_bytes())  # doctest: +SKIP
        {'partitions': 19, 'ops': 173, 'delegated_ops': 155, 'other_ops': 18,
         'other_op_names': {'ADD': 18}}
    """
    interpreter = litert_interpreter(content, num_threads=1)  # XNNPACK is applied here
    nodes = interpreter._get_ops_details()  # private: see the docstring
    delegates = [node for node in nodes if node["op_name"] == DELEGATE_OP]
    model_ops = [node for node in nodes if node["op_name"] != DELEGATE_OP]
    producer = {}
    for node in model_ops + delegates:  # a delegate node overrides the ops it replaced
        for tensor in node["outputs"]:
            producer[int(tensor)] = node["index"]
    by_index = {node["index"]: node for node in nodes}
    running, pending = set(), [int(detail["index"]) for detail in interpreter.get_output_details()]
    while pending:
        index = producer.get(pending.pop())
        if index is None or index in running:  # a graph input or a constant, or seen
            continue
        running.add(index)
        pending.extend(int(tensor) for tensor in by_index[index]["inputs"] if tensor >= 0)
    others = Counter(by_index[index]["op_name"] for index in running if by_index[index]["op_name"] != DELEGATE_OP)
    other_ops = sum(others.values())
    return {
        "partitions": len(delegates),
        "ops": len(model_ops),
        "delegated_ops": len(model_ops) - other_ops,
        "other_ops": other_ops,
        "other_op_names": dict(sorted(others.items())),
    }
