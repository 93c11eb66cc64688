"""Who is calling, and may they: API tokens, tickets with CSRF, ACLs.

Tokens as pve-access-control src/PVE/AccessControl.pm verify_token reads
them (the secret after the last '='), tickets and CSRF tokens as
assemble_ticket / assemble_csrf_prevention_token shape them, privileges as
PVE/RPCEnvironment.pm permissions() computes them: ACLs propagate down the
path, a token with privilege separation gets the intersection of its own
ACLs and its user's, root@pam may do everything.
"""

import base64
import hashlib
import hmac
import re
import time
import urllib.parse

from .config import ROLES

TICKET_LIFETIME = 2 * 3600


def _same(a, b):
    """Constant-time comparison of any text, not ASCII only."""
    return hmac.compare_digest(a.encode(), b.encode())


def _sig(key, text):
    mac = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode().rstrip("=")


class Auth:
    def __init__(self, cfg, key, token_secrets, passwords):
        self.cfg = cfg
        self.key = key                      # bytes: signs tickets
        self.token_secrets = token_secrets  # token id -> secret
        self.passwords = passwords          # user -> password
        self.pool_of = None                 # vmid -> pool, set by the sim
        # the built-in roles, and the config's own (as pveum role add);
        # 8.4's built-in roles have no VM.GuestAgent privileges
        builtin = ROLES if cfg.get("version") != "8.4" else {
            r: [p for p in ps if not p.startswith("VM.GuestAgent.")]
            for r, ps in ROLES.items()}
        self.roles = dict(builtin, **cfg.get("roles", {}))

    # --- who ---------------------------------------------------------

    def from_token(self, header):
        """The token id of a valid 'PVEAPIToken=USER@REALM!ID=SECRET'."""
        if not header.startswith("PVEAPIToken"):
            return None
        value = urllib.parse.unquote(header[len("PVEAPIToken") + 1:])
        tokenid, sep, secret = value.rpartition("=")
        if not sep or "!" not in tokenid:
            return None
        want = self.token_secrets.get(tokenid)
        if want is None or not _same(want, secret):
            return None
        return tokenid

    def make_ticket(self, user):
        stamp = "%08X" % int(time.time())
        plain = "PVE:%s:%s" % (user, stamp)
        return "%s::%s" % (plain, _sig(self.key, plain))

    def from_ticket(self, ticket):
        """The user of a valid, unexpired ticket."""
        ticket = urllib.parse.unquote(ticket)
        plain, sep, sig = ticket.rpartition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE":
            return None
        if not _same(_sig(self.key, plain), sig):
            return None
        try:
            age = time.time() - int(parts[2], 16)
        except ValueError:
            return None
        if age > TICKET_LIFETIME + 300 or age < -300:
            return None
        return parts[1]

    def make_csrf(self, user):
        stamp = "%08X" % int(time.time())
        return "%s:%s" % (stamp, _sig(self.key, stamp + ":" + user))

    def check_csrf(self, user, token):
        stamp, _, sig = (token or "").partition(":")
        return bool(stamp) and _same(_sig(self.key, stamp + ":" + user), sig)

    def login(self, username, password):
        """A user for username/password, or None (401 authentication failure)."""
        want = self.passwords.get(username)
        if want is None or not _same(want, password):
            return None
        return username

    # --- what they may do ------------------------------------------------

    def _acl_privs(self, ugid, path):
        """Privileges ACL entries for ugid grant on path (propagating)."""
        best = None     # the most specific path's entries win
        for acl in self.cfg["acls"]:
            if acl["ugid"] != ugid:
                continue
            p = acl["path"].rstrip("/") or "/"
            if p == path or (acl.get("propagate", 1) and
                             (p == "/" or path.startswith(p + "/"))):
                if best is None or len(p) > len(best[0]):
                    best = (p, set())
                if len(p) == len(best[0]):
                    best[1].update(self.roles.get(acl["role"], []))
        return best[1] if best else set()

    def _ugid_privs(self, ugid, path):
        """ACL privileges on path, and for a VM those of its pool too
        (RPCEnvironment.pm: a pool member inherits the pool's ACLs)."""
        out = self._acl_privs(ugid, path)
        m = re.match(r"^/vms/(\d+)$", path)
        if m and self.pool_of:
            pool = self.pool_of(m.group(1))
            if pool:
                out = out | self._acl_privs(ugid, "/pool/" + pool)
        return out

    def privs(self, who, path):
        """Every privilege who has on path."""
        user, _, _ = who.partition("!")
        everything = set().union(*self.roles.values())
        upriv = everything if user == "root@pam" else self._ugid_privs(user,
                                                                      path)
        if "!" not in who:
            return upriv
        tok = self.cfg["tokens"].get(who, {})
        if not tok.get("privsep", 1):
            return upriv
        return upriv & self._ugid_privs(who, path)

    def for_version(self, rule):
        """The schema's permission rule as this version checks it: on 8.4
        every guest agent call needs VM.Monitor (qemu-server
        PVE/API2/Qemu/Agent.pm before 9.0), not the VM.GuestAgent.*
        privileges of the 9.1 schema."""
        if self.cfg.get("version") != "8.4" or not rule:
            return rule
        if rule[0] == "perm" and any(p.startswith("VM.GuestAgent.")
                                     for p in rule[2]):
            return ["perm", rule[1], ["VM.Monitor"]]
        if rule[0] in ("and", "or"):
            return [rule[0]] + [self.for_version(r) for r in rule[1:]]
        return rule

    def check(self, who, rule, params):
        """Evaluate a schema permissions check; the failing (path, priv) or None.

        rule is the 'check' list of the schema: ["perm", path, [privs],
        "any", 1], ["and", ...], ["or", ...], ["userid-param", "self"].
        """
        if not rule:
            return None
        op = rule[0]
        if op == "perm":
            path = rule[1]
            for k, v in params.items():
                path = path.replace("{%s}" % k, str(v))
            privs = rule[2]
            opts = dict(zip(rule[3::2], rule[4::2]))
            anyof = bool(opts.get("any"))
            need = opts.get("require_param")
            if need and params.get(need) is None:
                return (path, ",".join(privs))
            have = self.privs(who, path)
            ok = (any(p in have for p in privs) if anyof
                  else all(p in have for p in privs))
            return None if ok else (path, ",".join(privs))
        if op == "and":
            for sub in rule[1:]:
                failed = self.check(who, sub, params)
                if failed:
                    return failed
            return None
        if op == "or":
            failed = None
            for sub in rule[1:]:
                failed = self.check(who, sub, params)
                if not failed:
                    return None
            return failed
        return None     # userid-param and the like: not modelled

    def permissions(self, who, path=None):
        """{path: {priv: 1}} as GET /access/permissions returns it."""
        paths = {"/", "/vms", "/storage", "/nodes", "/pool", "/access",
                 "/sdn"}
        for acl in self.cfg["acls"]:
            paths.add(acl["path"].rstrip("/") or "/")
        if path:
            paths = {path}
        return {p: {priv: 1 for priv in sorted(self.privs(who, p))}
                for p in sorted(paths)}
