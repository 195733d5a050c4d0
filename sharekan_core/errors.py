"""The one exception type users see: a one-line, plain-words error."""


class SharekanError(Exception):
    """A user-facing problem (bad file, bad parameter, bad input).

    The CLI prints ``error: <message>`` and exits non-zero; the app shows it with
    ``st.error``. Messages are one line and name the offending thing.
    """
