"""Ctrl-C during `model.fit`, turned into a KeyboardInterrupt raised between steps.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside TensorFlow's
tracing of a step, or in one of its destructors, that leaves the process broken: a SystemError
from the next step, an interrupt swallowed as "Exception ignored" so training goes on, or a
segfault. So while fit runs, Ctrl-C only asks to stop, and the next batch or epoch boundary,
plain Python in a callback, raises the KeyboardInterrupt; the epoch in progress is not saved, so
a resumed run starts it again. A second Ctrl-C raises at once, for a step that never ends.
"""

import signal
import sys
import threading

import keras


class StopBetweenSteps(keras.callbacks.Callback):
    """A callback and a context manager: `with stop:` defers Ctrl-C, and `stop`, in fit's
    callbacks (last, so an epoch's checkpoints are written first), raises it between steps.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous_handler = None

    def __enter__(self) -> "StopBetweenSteps":
        self.requested = False
        # signal.signal works only in the main thread; elsewhere Ctrl-C does not arrive anyway.
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def _request(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        new_line = "\n" if sys.stdout.isatty() else ""  # off the live progress bar's line
        print(f"{new_line}stopping after this step (Ctrl-C again stops at once)", file=sys.stderr, flush=True)

    def _raise_if_requested(self, step_or_epoch: int, logs: dict | None = None) -> None:
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = _raise_if_requested
    on_test_batch_end = _raise_if_requested
    on_epoch_end = _raise_if_requested
