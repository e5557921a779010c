"""The root of mistakes in what a user asked for (options, files, directories).

The CLI prints such an error as one line and exits with code 2, never a traceback.
"""


class UserError(Exception):
    """A request that cannot be carried out as given; the message says why."""
