"""The handler table: each API handler registers its method and path."""

ROUTES = {}


def route(method, path):
    """Register fn(sim, req) as the handler of method path (schema syntax)."""
    def register(fn):
        ROUTES[(method, path)] = fn
        return fn
    return register


class Request:
    """What a handler gets: the caller, the checked parameters, the path's node."""

    def __init__(self, who, params, entry):
        self.who = who              # "root@pam!hl" or "root@pam"
        self.params = params        # validated, typed
        self.entry = entry          # the schema entry
        self.upload = None          # an upload's file bytes

    def __getitem__(self, key):
        return self.params[key]

    def get(self, key, default=None):
        return self.params.get(key, default)
