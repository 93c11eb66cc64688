#!/usr/bin/python3
"""Read a running guest through its agent with Debian's python3-proxmoxer.

The simulator from the environment (.hl/sim.env), the VM id from argv[1]
(on pve1).  Prints "<iface> <ipv4>" per address and "hostkey <key>";
exits non-zero when a call fails.  TLS verified through REQUESTS_CA_BUNDLE
(proxmoxer 1.2.0 takes no CA file).
"""
import os
import sys
import urllib.parse

from proxmoxer import ProxmoxAPI

url = urllib.parse.urlsplit(os.environ["HL_PVE_ENDPOINT"])
tokenid, secret = os.environ["HL_PVE_TOKEN"].rsplit("=", 1)
user, name = tokenid.split("!")
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["HL_PVE_CAFILE"]
pve = ProxmoxAPI(url.hostname, port=url.port, user=user, token_name=name,
                 token_value=secret, verify_ssl=True)
agent = pve.nodes("pve1").qemu(int(sys.argv[1])).agent

agent.ping.post()
for iface in agent("network-get-interfaces").get()["result"]:
    for a in iface.get("ip-addresses", []):
        if a["ip-address-type"] == "ipv4":
            print(iface["name"], a["ip-address"])
key = agent("file-read").get(file="/etc/ssh/ssh_host_ed25519_key.pub")
print("hostkey", key["content"].strip())
