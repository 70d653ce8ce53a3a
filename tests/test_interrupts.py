"""Ctrl-C during fit: deferred to the end of the step, then a KeyboardInterrupt."""

import signal

import keras
import numpy as np
import pytest

from keras_deconvnet.training.interrupts import StopBetweenSteps


@pytest.fixture(autouse=True)
def python_sigint():
    """Python's own Ctrl-C handler for each test (pytest-xdist's workers ignore SIGINT)."""
    handler_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, handler_before)


class CtrlCAt(keras.callbacks.Callback):
    """Presses Ctrl-C at one moment of fit and records which epochs ended and whether fit did."""

    def __init__(self, moment: str):
        super().__init__()
        self.moment = moment
        self.epochs_ended = []
        self.train_ended = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.moment == "first train step" and batch == 0:
            signal.raise_signal(signal.SIGINT)

    def on_test_batch_begin(self, batch, logs=None):
        if self.moment == "first validation step" and batch == 0:
            signal.raise_signal(signal.SIGINT)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_ended.append(epoch)
        if self.moment == "first epoch end" and epoch == 0:
            signal.raise_signal(signal.SIGINT)

    def on_train_end(self, logs=None):
        self.train_ended = True


def fit_with_ctrl_c(moment: str, capfd) -> tuple[keras.Model, CtrlCAt]:
    """Fits a tiny model for 3 epochs of 4 steps, Ctrl-C pressed at `moment`; expects the stop."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    data = np.ones((16, 4)), np.ones((16, 1))
    ctrl_c, stop = CtrlCAt(moment), StopBetweenSteps()
    with pytest.raises(KeyboardInterrupt), stop:
        model.fit(*data, batch_size=4, epochs=3, validation_data=data, callbacks=[ctrl_c, stop], verbose=0)
    assert "stopping after this step" in capfd.readouterr().err
    return model, ctrl_c


def test_ctrl_c_in_a_training_step_finishes_it_then_raises(capfd):
    model, ctrl_c = fit_with_ctrl_c("first train step", capfd)
    # The step ran to its end (Python's own handler raises in the callback, before it).
    assert int(model.optimizer.iterations) == 1
    assert ctrl_c.epochs_ended == []  # the epoch is not saved
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_validation_raises_before_the_epoch_ends(capfd):
    model, ctrl_c = fit_with_ctrl_c("first validation step", capfd)
    assert int(model.optimizer.iterations) == 4 and ctrl_c.epochs_ended == []


def test_ctrl_c_at_an_epoch_end_keeps_the_epoch_and_ends_fit_normally(capfd):
    model, ctrl_c = fit_with_ctrl_c("first epoch end", capfd)
    assert ctrl_c.epochs_ended == [0] and ctrl_c.train_ended  # e.g. TensorBoard closes its files
    assert int(model.optimizer.iterations) == 4


def test_a_second_ctrl_c_raises_at_once():
    with pytest.raises(KeyboardInterrupt), StopBetweenSteps() as stop:  # and the first, at the end
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_after_fit_is_python_s_again():
    with StopBetweenSteps():
        pass
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_an_ignored_ctrl_c_stays_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job of a script
    with StopBetweenSteps() as stop:
        signal.raise_signal(signal.SIGINT)
    assert not stop.requested
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_message_reaches_stderr_while_native_notices_are_hidden(capfd):
    from keras_deconvnet.process import DeferredInterrupt, stderr_to_devnull

    with DeferredInterrupt("stage") as interrupt, stderr_to_devnull():  # as while a file is converted
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupt.raise_if_requested()
    assert capfd.readouterr().err == "stopping after this stage (Ctrl-C again stops at once)\n"


def test_an_active_interrupt_cannot_be_entered_again():
    from keras_deconvnet.process import DeferredInterrupt

    interrupt = DeferredInterrupt()
    with interrupt:
        with pytest.raises(RuntimeError, match="already active"):
            interrupt.__enter__()
    with pytest.raises(KeyboardInterrupt):  # and Python's handler is back
        signal.raise_signal(signal.SIGINT)
