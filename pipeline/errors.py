"""User-facing errors raised before any work starts; the command line prints them and exits 2."""


class UsageError(Exception):
    """A flag, model, rule pack or output that cannot be used as given; the message says how to fix it."""
