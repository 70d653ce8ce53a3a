"""Ctrl-C during `model.fit`, turned into a KeyboardInterrupt raised between steps.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside TensorFlow's
tracing of a step, or in one of its destructors, that leaves the process broken: a SystemError
from the next step, an interrupt swallowed as "Exception ignored" so training goes on, or a
segfault. So while fit runs, Ctrl-C only asks to stop. The end of the next training or
validation step, plain Python in a callback, raises the KeyboardInterrupt, and the epoch in
progress is not saved (a resumed run does it again); at the end of an epoch, fit stops after
the epoch's checkpoints and ends normally, and the KeyboardInterrupt follows it. A second
Ctrl-C raises at once, for a step that never ends.
"""

import os
import signal
import sys
import threading

import keras

_NOT_INSTALLED = object()


class StopBetweenSteps(keras.callbacks.Callback):
    """A callback and a context manager: `with stop:` defers Ctrl-C, and `stop`, last in fit's
    callbacks (so an epoch's checkpoints are written first), stops fit at a step's end.

    A SIGINT that is ignored (a background job of a script) stays ignored.
    """

    # Keras may call the batch-end hooks in a worker thread (JAX, torch); an interrupt raised
    # there reaches fit at its next callback call, still before the epoch's checkpoints.
    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous_handler = _NOT_INSTALLED

    def __enter__(self) -> "StopBetweenSteps":
        self.requested = False
        # signal.signal works only in the main thread; elsewhere Ctrl-C does not arrive anyway.
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                self._previous_handler = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if self._previous_handler is not _NOT_INSTALLED:
            # None: a handler set outside Python, which signal cannot put back; Python's default.
            previous = signal.default_int_handler if self._previous_handler is None else self._previous_handler
            signal.signal(signal.SIGINT, previous)
            self._previous_handler = _NOT_INSTALLED
        if self.requested and exc_type is None:
            raise KeyboardInterrupt

    def _request(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        new_line = "\n" if sys.stdout.isatty() else ""  # off the live progress bar's line
        # os.write, not print: a print while the main thread prints to stderr raises RuntimeError.
        os.write(2, f"{new_line}stopping after this step (Ctrl-C again stops at once)\n".encode())

    def _raise_if_requested(self, step: int, logs: dict | None = None) -> None:
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = _raise_if_requested
    on_test_batch_end = _raise_if_requested

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.model.stop_training = True  # fit ends its callbacks; __exit__ raises
