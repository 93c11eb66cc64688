"""HTTPS, the wire rules and dispatch: what pveproxy and pvedaemon do.

Follows pve-http-server src/PVE/APIServer/AnyEvent.pm (request parsing,
body on GET/DELETE refused, 401 delay), Formatter/Standard.pm (envelope,
reason phrase, "message" member) and pve-manager PVE/HTTPServer.pm
(authentication, CSRF, 501 for unknown methods).
"""

import email.parser
import email.policy
import http.server
import json
import re
import socket
import socketserver
import ssl
import sys
import time
import traceback
import urllib.parse

from . import faults
from .errors import ApiError, param_error
from .routes import ROUTES, Request

MAX_BODY = 512 * 1024
MAX_UPLOAD = 1 << 30
NO_AUTH = {("POST", "/access/ticket"), ("GET", "/access/ticket"),
           ("GET", "/access/domains")}


def parse_form(text):
    """Query or form parameters as pve-http-server reads them.

    Pairs split on '&' and ';'; a key given without a value is None (PVE
    takes it as absent); a key given twice has its values joined by NUL,
    as Perl's CGI param list reads them.
    """
    out = {}
    for pair in re.split(r"[&;]", text):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        k = urllib.parse.unquote_plus(k)
        v = urllib.parse.unquote_plus(v) if v != "" else None
        if k in out and out[k] is not None and v is not None:
            out[k] = out[k] + "\0" + v     # a repeated key: NUL-joined
        else:
            out[k] = v
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""

    def log_message(self, fmt, *args):     # the request log is the sim's own
        pass

    def setup(self):
        # headers and body go out in two writes: without TCP_NODELAY the
        # body waits for the client's delayed ACK (40 ms a reply), which
        # pveproxy never makes anyone wait
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # --- answers -------------------------------------------------------

    def answer(self, status, body, reason=None, extra=None):
        if reason is not None:      # a status line holds Latin-1 only
            reason = re.sub(r"[\x00-\x1f\x7f]", " ", reason.encode(
                "latin-1", "replace").decode("latin-1"))
        data = json.dumps(body, separators=(",", ":")).encode() \
            if body is not None else b""
        self.send_response(status, reason)
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", self.date_time_string())
        if body is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def answer_error(self, e):
        first = e.message.split("\n", 1)[0]
        if e.status == 401:
            # Auth failures: no body; PVE delays them to slow guessing.
            time.sleep(self.server.sim.cfg["auth_delay_s"])
            return self.answer(401, None, first)
        body = {"data": None}
        if e.errors:
            body["errors"] = e.errors
        body["message"] = e.message + "\n"
        self.answer(e.status, body, first)

    # --- one request ---------------------------------------------------

    def read_body(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        if length and method in ("GET", "DELETE"):
            raise ApiError(501, "Unexpected content for method '%s'" % method)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        limit = MAX_UPLOAD if ctype == "multipart/form-data" else MAX_BODY
        if length > limit:
            raise ApiError(413, "Request Entity Too Large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if ctype == "multipart/form-data":
            return self.read_multipart(raw)
        if ctype == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "unable to parse JSON body")
            if not isinstance(body, dict):
                raise ApiError(400, "JSON body must be an object")
            return body
        return parse_form(raw.decode("utf-8", "replace"))

    def read_multipart(self, raw):
        """An upload: the fields, and the file's bytes kept aside.

        As pve-http-server's upload handling: the file part's own name
        becomes the 'filename' parameter.
        """
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() +
            b"\r\n\r\n" + raw)
        params = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fname = part.get_filename()
            if fname is not None:
                self.upload = part.get_payload(decode=True) or b""
                params["filename"] = fname
            elif name:
                params[name] = part.get_payload(decode=True).decode()
        return params

    def authenticate(self, method, sim):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("PVEAPIToken"):
            who = sim.auth.from_token(auth)
            if who is None:
                raise ApiError(401, "authentication failure")
            return who, True
        ticket = None
        if auth.startswith("PVEAuthCookie="):
            ticket = auth[len("PVEAuthCookie="):]
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "PVEAuthCookie":
                ticket = v
        if not ticket:
            raise ApiError(401, "No ticket")
        who = sim.auth.from_ticket(ticket)
        if who is None:
            raise ApiError(401, "authentication failure")
        if method != "GET" and not sim.auth.check_csrf(
                who, self.headers.get("CSRFPreventionToken")):
            raise ApiError(401, "Permission denied - invalid csrf token")
        return who, False

    def dispatch(self, method):
        sim = self.server.sim
        self.upload = None
        url = urllib.parse.urlsplit(self.path)
        log = {"method": method, "path": url.path, "params": [],
               "token": "Authorization" in self.headers and
               (self.headers["Authorization"] or "").startswith("PVEAPIToken")}
        try:
            if url.path.startswith("/sim/"):
                return faults.admin(self, sim, method, url)
            latency = sim.faults.get("latency_ms")
            if latency and url.path.startswith("/api2/"):
                time.sleep(latency / 1000.0)
            fault = sim.faults.before(method, url.path)
            if fault == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(fault, faults.Raw):
                body = fault.body.encode("utf-8")
                self.send_response(fault.status)
                self.send_header("Content-Type",
                                 "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if fault:
                raise fault
            if not url.path.startswith("/api2/json/"):
                raise ApiError(501, "Method '%s %s' not implemented"
                               % (method, url.path))
            # Split first, then unescape each segment: a volume id in the
            # path comes with its '/' escaped (content/local:backup%2F...)
            # and stays one segment (RESTHandler.pm find_handler splits
            # the path before its parameters are taken)
            comps = [urllib.parse.unquote(seg) for seg in re.split(
                "/+", url.path[len("/api2/json/"):]) if seg]
            sub = "/" + "/".join(comps)
            found = sim.schema.match(method, comps)
            if found is None:
                raise ApiError(501, "Method '%s %s' not implemented"
                               % (method, sub))
            entry, path_params = found
            # Who first: nobody unknown gets a body read, an upload least.
            who, by_token = None, False
            if (method, entry["path"]) not in NO_AUTH:
                who, by_token = self.authenticate(method, sim)
                if by_token and not entry.get("allowtoken", 1):
                    raise ApiError(403, "Permission check failed (URI %s not "
                                   "available with API token, need proper "
                                   "ticket.)" % sub)
            # The body, then the query string over it (extract_params).
            params = self.read_body(method)
            params.update(parse_form(url.query))
            log["params"] = sorted(params)
            if params.get("skiplock") not in (None, "0", 0) and \
                    who != "root@pam" and not (who or "").startswith(
                        "root@pam!"):
                raise param_error({"skiplock": "Only root may use this "
                                   "option."})
            for k, v in path_params.items():
                if k in params and str(params[k]) != v:
                    raise param_error({k: "duplicate parameter (already "
                                       "defined in URI) with conflicting "
                                       "values!"})
                params[k] = v
            values, errors = sim.schema.validate(entry, params)
            if errors:
                raise param_error(errors)
            if who:
                rule = (entry.get("permissions") or {}).get("check")
                failed = sim.auth.check(who, sim.auth.for_version(rule),
                                        values)
                if failed:
                    raise ApiError(403, "Permission check failed (%s, %s)"
                                   % failed)
            fn = ROUTES.get((method, entry["path"]))
            if fn is None:
                raise ApiError(501, "Method '%s %s' not implemented"
                               % (method, sub))
            request = Request(who, values, entry)
            request.upload = getattr(self, "upload", None)
            result = fn(sim, request)
            extra_body = {}
            if isinstance(result, Envelope):
                extra_body, result = result.extra, result.data
            log["status"] = 200
            self.answer(200, dict({"data": result}, **extra_body))
        except ApiError as e:
            log["status"] = e.status
            self.answer_error(e)
        except (BrokenPipeError, ConnectionResetError):
            log["status"] = 0
        except Exception as e:      # a simulator bug: a 500 that says so
            traceback.print_exc(file=sys.stderr)
            log["status"] = 500
            self.answer_error(ApiError(500, "internal simulator error: %s"
                                       % e))
        finally:
            sim.log_request(log)


class Envelope:
    """A result with members beside data ("total" of a task log)."""

    def __init__(self, data, **extra):
        self.data = data
        self.extra = extra


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sim, cert, key):
        super().__init__(addr, Handler)
        self.sim = sim
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)

    def finish_request(self, request, client_address):
        # The handshake in the request's own thread: a slow client does
        # not hold the listener.
        try:
            request.settimeout(30)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)
