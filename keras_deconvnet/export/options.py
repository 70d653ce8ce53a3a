"""What an export can write, read without TensorFlow: the commands' `--help` offers these."""

FORMATS = ("keras", "saved_model", "tflite", "onnx")
# What an export writes unless told: ONNX needs the optional tf2onnx and onnxruntime.
DEFAULT_FORMATS = ("keras", "saved_model", "tflite")
TFLITE_TYPES = ("float32", "float16", "int8")
INT8_QUANTIZERS = ("converter", "ai-edge-quantizer")
INT8_OUTPUTS = ("int8", "float", "classes")
# The most IoU (in points) a class of the check images may lose in the int8 file: int8 that
# keeps the mean may still lose one class on new scenes (pavement lost 10.7 points on CamVid's test).
MAX_CLASS_DROP = {"tflite_int8": 3.0}
