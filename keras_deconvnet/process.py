"""How the process behaves for a user at a console.

Keeps TensorFlow's start-up chatter off the console: the commands call `quiet_logs` before
anything imports TensorFlow, unless `--verbose` asks for its logs.

Hidden: the C++ logs (oneDNN notices, CUDA probing on a CPU such as "failed call to cuInit",
"did not fully read the dataset being cached"), which TF_CPP_MIN_LOG_LEVEL=3 silences once
TensorFlow is loaded; the lines its native libraries write while being loaded, before they read
that variable, which go to /dev/null for the duration of the first `import tensorflow`; the
notices the TFLite converter and LiteRT print whatever the log level (`native_notices_hidden`);
the INFO and WARNING records of absl, TensorFlow and TFDS ("Using custom data configuration",
"Downloading and preparing dataset"); tf2onnx's tracebacks of the graph optimisations it skips
and recovers from; and, when stderr is not a terminal (a log file), the progress bars TFDS
draws while it prepares a dataset. Errors raised as exceptions still reach the user.

Ctrl-C deferred to a moment where stopping is safe.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside TensorFlow (a
step's tracing, a SavedModel being written, one of its destructors) that can leave the process
broken: a SystemError or a pybind11 RuntimeError instead of the interrupt, an interrupt
swallowed as "Exception ignored", or a segfault. So while a `DeferredInterrupt` is active,
Ctrl-C only asks to stop, and the work calls `raise_if_requested` where it can stop cleanly.
A second Ctrl-C raises at once, for work that never gets there.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import signal
import sys
import threading

NOISY_LOGGERS = ("tensorflow", "absl", "tensorflow_datasets")


def quiet_logs(verbose: bool = False) -> None:
    """Unless `verbose`, silences TensorFlow, absl and TFDS below ERROR; a TF_CPP_MIN_LOG_LEVEL
    or TQDM_DISABLE the user set is kept. Call it before TensorFlow is imported."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        os.environ.setdefault("TQDM_DISABLE", "1")  # carriage-return bars make a log unreadable
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # tf2onnx logs the optimiser failures it recovers from as errors with tracebacks.
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to silence
        pass
    else:
        absl_logging.set_verbosity(absl_logging.ERROR)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def native_notices_hidden():
    """Hides what native code writes to stderr inside the block while TensorFlow's logs are
    hidden (TF_CPP_MIN_LOG_LEVEL=3, as `quiet_logs` sets it): the TFLite converter's
    "fully_quantize: ..." line and LiteRT's "Created TensorFlow Lite XNNPACK delegate" obey
    no log level. Failures still arrive as exceptions, with their messages."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    with stderr_to_devnull():
        yield


@contextlib.contextmanager
def stderr_to_devnull():
    """Sends file descriptor 2 (what native code writes, too) to /dev/null inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` the first time it is imported and loads it with stderr silenced."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports find the loaded module
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilencedLoader(spec.loader)
        return spec


class _SilencedLoader(importlib.abc.Loader):
    """Runs a loader with stderr silenced, then leaves the module its own loader."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # e.g. get_resource_reader, asked for while TensorFlow loads
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            with stderr_to_devnull():
                self.loader.exec_module(module)
        finally:
            module.__loader__ = module.__spec__.loader = self.loader


_NOT_INSTALLED = object()


class DeferredInterrupt:
    """`with DeferredInterrupt("file") as interrupt:` defers Ctrl-C; `interrupt.raise_if_requested()`
    raises the KeyboardInterrupt it asked for.

    A SIGINT that is ignored (a background job of a script) stays ignored.

    Args:
        unit: what the work finishes before it stops, for the message ("stopping after this step").
    """

    def __init__(self, unit: str = "step") -> None:
        self.unit = unit
        self.requested = False
        self._previous_handler = _NOT_INSTALLED
        self._stderr = None

    def __enter__(self) -> "DeferredInterrupt":
        if self._previous_handler is not _NOT_INSTALLED:
            raise RuntimeError("this DeferredInterrupt is already active")
        self.requested = False
        # signal.signal works only in the main thread; elsewhere Ctrl-C does not arrive anyway.
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                # The message goes to stderr as it is now: the work may point file descriptor 2
                # at /dev/null for a while to hide native notices (`keras_deconvnet.process`).
                try:
                    self._stderr = os.dup(2)
                except OSError:  # stderr closed: no message
                    self._stderr = None
                self._previous_handler = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if self._previous_handler is not _NOT_INSTALLED:
            # None: a handler set outside Python, which signal cannot put back; Python's default.
            previous = signal.default_int_handler if self._previous_handler is None else self._previous_handler
            signal.signal(signal.SIGINT, previous)
            self._previous_handler = _NOT_INSTALLED
            if self._stderr is not None:
                os.close(self._stderr)
                self._stderr = None

    def raise_if_requested(self) -> None:
        """Raises KeyboardInterrupt if Ctrl-C was pressed."""
        if self.requested:
            raise KeyboardInterrupt

    def _request(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        new_line = "\n" if sys.stdout.isatty() else ""  # off a live progress bar's line
        message = f"{new_line}stopping after this {self.unit} (Ctrl-C again stops at once)\n"
        # os.write, not print: a print while the main thread prints to stderr raises RuntimeError.
        # A pipe whose reader Ctrl-C also stopped (| tee) must not raise here, inside the work.
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                os.write(self._stderr, message.encode())
