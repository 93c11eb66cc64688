#!/usr/bin/python3
"""Serve one directory over HTTP on a loopback port; print the port.

The tests' stand-in for an image mirror: download-url fetches from it.
"""
import functools
import http.server
import sys

handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                            directory=sys.argv[1])
http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
