"""Ctrl-C during fit: deferred to the end of the step, then a KeyboardInterrupt."""

import signal

import keras
import numpy as np
import pytest

from keras_deconvnet.training.interrupts import StopBetweenSteps


class CtrlCInFirstStep(keras.callbacks.Callback):
    """Presses Ctrl-C as the first training step begins."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            signal.raise_signal(signal.SIGINT)


def tiny_model() -> keras.Model:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_ctrl_c_in_fit_finishes_the_step_then_raises_keyboard_interrupt(capsys):
    model = tiny_model()
    handler_before = signal.getsignal(signal.SIGINT)
    stop = StopBetweenSteps()
    with pytest.raises(KeyboardInterrupt), stop:
        model.fit(np.ones((16, 4)), np.ones((16, 1)), batch_size=4, epochs=3,
                  callbacks=[CtrlCInFirstStep(), stop], verbose=0)
    # Python's own handler raises inside the callback, before the step: 0 steps.
    assert int(model.optimizer.iterations) == 1
    assert signal.getsignal(signal.SIGINT) is handler_before
    assert "stopping after this step" in capsys.readouterr().err


def test_a_second_ctrl_c_raises_at_once():
    with StopBetweenSteps() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_after_fit_is_python_s_again():
    # pytest-xdist's workers ignore SIGINT: set Python's own handler for the test, then put back theirs.
    handler_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with StopBetweenSteps():
            pass
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, handler_before)
