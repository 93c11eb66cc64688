#!/usr/bin/python3
"""A backup and a restore through Debian's python3-proxmoxer.

The simulator from the environment (.hl/sim.env), the VM id from argv[1]
(made here on pve1 with a blank disk, destroyed after its backup and
restored from it).  Prints one line per step; exits non-zero on the first
step that fails.  TLS verified through REQUESTS_CA_BUNDLE (pve_env.py).
"""
import sys
import time
import urllib.parse

from pve_env import connect

pve = connect()
node = pve.nodes("pve1")
vmid = int(sys.argv[1])


def wait(upid):
    for _ in range(400):
        st = node.tasks(upid).status.get()
        if st["status"] == "stopped":
            if st["exitstatus"] != "OK":
                sys.exit("task %s failed: %s" % (upid, st["exitstatus"]))
            return upid
        time.sleep(0.05)
    sys.exit("task %s did not end" % upid)


wait(node.qemu.post(vmid=vmid, name="px-backup", memory=512,
                    net0="virtio,bridge=vmbr0", scsi0="local-lvm:1"))
mac = node.qemu(vmid).config.get()["net0"]
upid = wait(node.vzdump.post(vmid=str(vmid), storage="local",
                             compress="zstd", mode="snapshot",
                             **{"notes-template": "{{guestname}}"}))
print("backup", upid.split(":")[5], upid.split(":")[6])
backups = node.storage("local").content.get(content="backup", vmid=vmid)
volid = backups[0]["volid"]
print("listed", len(backups), backups[0]["format"], backups[0]["notes"])
conf = node.vzdump.extractconfig.get(volume=volid)
print("config", [line for line in conf.splitlines()
                 if line.startswith("#qmdump#")][0])
wait(node.qemu(vmid).delete())
upid = wait(node.qemu.post(vmid=vmid, archive=volid, storage="local-lvm",
                           unique=1))
print("restore", upid.split(":")[5])
after = node.qemu(vmid).config.get()
print("restored", after["name"], after["scsi0"].split(",")[0],
      "new-mac" if after["net0"] != mac else "same-mac")
wait(node.storage("local").content(urllib.parse.quote(volid, safe="")).delete())
print("left", len(node.storage("local").content.get(content="backup",
                                                     vmid=vmid)))
wait(node.qemu(vmid).delete())
