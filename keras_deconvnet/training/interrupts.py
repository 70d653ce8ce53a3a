"""Ctrl-C during `model.fit`, turned into a KeyboardInterrupt raised between steps.

While fit runs, Ctrl-C only asks to stop (see `keras_deconvnet.process`). The end of the
next training or validation step, plain Python in a callback, raises the KeyboardInterrupt,
and the epoch in progress is not saved (a resumed run does it again); at the end of an epoch,
fit stops after the epoch's checkpoints and ends normally, and the KeyboardInterrupt follows
it. A second Ctrl-C raises at once, for a step that never ends.
"""

import keras

from keras_deconvnet.process import DeferredInterrupt


class StopBetweenSteps(DeferredInterrupt, keras.callbacks.Callback):
    """A callback and a context manager: `with stop:` defers Ctrl-C, and `stop`, last in fit's
    callbacks (so an epoch's checkpoints are written first), stops fit at a step's end.
    """

    # Keras may call the batch-end hooks in a worker thread (JAX, torch); an interrupt raised
    # there reaches fit at its next callback call, still before the epoch's checkpoints.
    async_safe = True

    def __init__(self) -> None:
        DeferredInterrupt.__init__(self, "step")
        keras.callbacks.Callback.__init__(self)

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        if self.requested and exc_type is None:  # fit ended at an epoch's end, as asked
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.raise_if_requested()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.raise_if_requested()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.model.stop_training = True  # fit ends its callbacks; __exit__ raises
