#!/usr/bin/python3
"""Read a running guest through its agent with Debian's python3-proxmoxer.

The simulator from the environment (.hl/sim.env), the VM id from argv[1]
(on pve1).  Prints "<iface> <ipv4>" per address and "hostkey <key>";
exits non-zero when a call fails.  TLS verified through REQUESTS_CA_BUNDLE
(pve_env.py).
"""
import sys

from pve_env import connect

pve = connect()
agent = pve.nodes("pve1").qemu(int(sys.argv[1])).agent

agent.ping.post()
for iface in agent("network-get-interfaces").get()["result"]:
    for a in iface.get("ip-addresses", []):
        if a["ip-address-type"] == "ipv4":
            print(iface["name"], a["ip-address"])
key = agent("file-read").get(file="/etc/ssh/ssh_host_ed25519_key.pub")
print("hostkey", key["content"].strip())
