"""Small files the simulator keeps: written whole, readable by root only."""

import os
import socket
import tempfile


def write_private(path, text):
    """Write text to path atomically, mode 0600 (the .hl/*.env files and
    the state hold secrets or what pins trust)."""
    # a temporary name of its own: two writers never share one
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                               dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def kept_port(path, port=None):
    """A loopback port kept across restarts in path: port when given, else
    the one kept, else a free one."""
    if not port and os.path.exists(path):
        with open(path, encoding="ascii") as f:
            port = int(f.read())
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    with open(path, "w", encoding="ascii") as f:
        f.write(str(port))
    return port
