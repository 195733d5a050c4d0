"""The one exception type users see: a one-line, plain-words error."""


class SharekanError(Exception):
    """A user-facing problem (bad file, bad parameter, bad input).

    The CLI prints ``error: <message>`` and exits non-zero; the app shows it with
    ``st.error``. Messages are one line and name the offending thing.
    """


def os_error_message(exc: OSError) -> str:
    """One plain line for an operating-system error on a user's file: 'cannot open X: permission denied'."""
    reason = (exc.strerror or str(exc) or "input/output error").rstrip(".").lower()
    name = exc.filename if exc.filename not in (None, "") else None
    return f"cannot use '{name}': {reason}" if name is not None else reason
