"""The errors handlers raise, shaped as PVE answers them.

pve-manager PVE/HTTPServer.pm rest_handler and pve-http-server
Formatter/Standard.pm: the HTTP reason phrase carries the message's first
line; the body is {"data": null} plus "errors" for parameter problems and
"message" (the full text with a trailing newline, libpve-http-server-perl
5.2.0 and later).
"""


class ApiError(Exception):
    """An answer other than 200: status, message, and parameter errors."""

    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def param_error(errors):
    """400 Parameter verification failed. with the errors map."""
    return ApiError(400, "Parameter verification failed.", errors)


def fail(message):
    """A handler's die: 500 with its message (locks, missing configs...)."""
    return ApiError(500, message)


class TaskError(Exception):
    """A task's failure: its text becomes the exitstatus and TASK ERROR line."""
