"""The one exception type for user mistakes and missing resources."""


class UsageError(ValueError):
    """A bad argument, a missing file or an unreachable download.

    The message is one line that names the bad input and the fix. Scripts print it as
    ``error: <message>`` and exit with status 2, without a stack trace.
    """
