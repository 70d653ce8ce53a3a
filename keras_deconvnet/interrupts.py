"""Ctrl-C deferred to a moment where stopping is safe.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside TensorFlow (a
step's tracing, a SavedModel being written, one of its destructors) that can leave the process
broken: a SystemError or a pybind11 RuntimeError instead of the interrupt, an interrupt
swallowed as "Exception ignored", or a segfault. So while a `DeferredInterrupt` is active,
Ctrl-C only asks to stop, and the work calls `raise_if_requested` where it can stop cleanly.
A second Ctrl-C raises at once, for work that never gets there.
"""

import contextlib
import os
import signal
import sys
import threading

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
                # at /dev/null for a while to hide native notices (`keras_deconvnet.quiet`).
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
