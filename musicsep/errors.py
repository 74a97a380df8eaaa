"""The one exception type a user sees as ``error: ...`` (exit status 2)."""


class UserError(Exception):
    """Bad input or usage: reported as one line, never as a traceback."""
