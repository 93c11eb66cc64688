"""The image mirror: the simulator's own Debian 12 image over HTTP on
loopback, under the example template's pinned file name, so download-url
fetches it and verifies a real checksum (DESIGN.md 3, Images).

The image is built once per machine by sim/images/build-debian-12.
"""

import functools
import http.server
import os
import re
import threading

CACHE = os.path.join(os.environ.get("HL_SIM_CACHE", "/var/cache/hl-sim"),
                     "images")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the images' disk files and nothing else (no listings)."""

    def log_message(self, fmt, *args):
        pass

    def send_head(self):
        if not re.fullmatch(r"/images/[A-Za-z0-9._-]+\.qcow2", self.path):
            self.send_error(404)
            return None
        return super().send_head()

    def translate_path(self, path):
        name = path.rsplit("/", 1)[-1]
        for image in os.listdir(self.directory):
            f = os.path.join(self.directory, image, name)
            if os.path.isfile(f):
                return f
        return os.path.join(self.directory, "missing")


def images(cache=CACHE):
    """(file name, sha512 hex) of each built image."""
    out = []
    if not os.path.isdir(cache):
        return out
    for image in sorted(os.listdir(cache)):
        d = os.path.join(cache, image)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith(".qcow2.sha512"):
                with open(os.path.join(d, f), encoding="ascii") as fh:
                    digest, name = fh.read().split()
                out.append((name, digest))
    return out


def rootfs_for(sha512, cache=CACHE):
    """The tree of the built image whose disk file has this SHA-512."""
    for name, digest in images(cache):
        if digest == sha512:
            for image in os.listdir(cache):
                root = os.path.join(cache, image, "rootfs")
                if os.path.exists(os.path.join(cache, image, name)) and \
                        os.path.isdir(root):
                    return root
    return None


def start(port, cache=CACHE, extra=()):
    """Serve the images on 127.0.0.1:port (and the extra addresses: the
    guests' side) in threads; the servers."""
    handler = functools.partial(_Handler, directory=cache)
    servers = []
    for addr in ("127.0.0.1",) + tuple(extra):
        srv = http.server.ThreadingHTTPServer((addr, port), handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True,
                         name="mirror").start()
        servers.append(srv)
    return servers
