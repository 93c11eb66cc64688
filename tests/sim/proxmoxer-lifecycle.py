#!/usr/bin/python3
"""A VM's life through Debian's python3-proxmoxer, an independent client.

Reads the simulator from the environment (.hl/sim.env) and the import
volume to use from argv[1]; prints one line per step; exits non-zero on the
first step that fails.  proxmoxer 1.2.0 cannot take a CA file, so TLS is
verified through REQUESTS_CA_BUNDLE.
"""
import sys
import time

from pve_env import connect

pve = connect()
node = pve.nodes("pve1")


def wait(upid):
    for _ in range(400):
        st = node.tasks(upid).status.get()
        if st["status"] == "stopped":
            if st["exitstatus"] != "OK":
                sys.exit("task %s failed: %s" % (upid, st["exitstatus"]))
            return
        time.sleep(0.05)
    sys.exit("task %s did not end" % upid)


vmid = int(pve.cluster.nextid.get())
wait(node.qemu.post(vmid=vmid, name="px", memory=1024, cores=1,
                    net0="virtio,bridge=vmbr0",
                    scsi0="local-lvm:0,import-from=%s" % sys.argv[1],
                    ide2="local-lvm:cloudinit", agent="enabled=1"))
print("created", vmid)
wait(node.qemu(vmid).template.post())
print("template", node.qemu(vmid).config.get()["template"])
clone = vmid + 1
wait(node.qemu(vmid).clone.post(newid=clone, name="px-clone", full=1))
print("cloned", clone)
node.qemu(clone).config.put(cores=2, tags="px;Sim")
print("config", node.qemu(clone).config.get()["cores"],
      node.qemu(clone).config.get()["tags"])
upid = node.qemu(clone).resize.put(disk="scsi0", size="+1G")
if upid:
    wait(upid)
print("resized", node.qemu(clone).config.get()["scsi0"].split("size=")[1])
wait(node.qemu(clone).status.start.post())
print("status", node.qemu(clone).status.current.get()["status"])
wait(node.qemu(clone).status.stop.post())
print("status", node.qemu(clone).status.current.get()["status"])
wait(node.qemu(clone).delete())
wait(node.qemu(vmid).delete())
left = [v["vmid"] for v in pve.cluster.resources.get(type="vm")
        if v["vmid"] in (vmid, clone)]
print("destroyed", left)
