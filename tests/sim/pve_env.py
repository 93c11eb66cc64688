"""The simulator from the environment (.hl/sim.env), as proxmoxer takes it.

proxmoxer 1.2.0 cannot take a CA file, so TLS is verified through
REQUESTS_CA_BUNDLE.
"""
import os
import urllib.parse

from proxmoxer import ProxmoxAPI


def connect():
    url = urllib.parse.urlsplit(os.environ["HL_PVE_ENDPOINT"])
    tokenid, secret = os.environ["HL_PVE_TOKEN"].rsplit("=", 1)
    user, name = tokenid.split("!")
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["HL_PVE_CAFILE"]
    return ProxmoxAPI(url.hostname, port=url.port, user=user,
                      token_name=name, token_value=secret, verify_ssl=True)
