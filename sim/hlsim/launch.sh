#!/bin/sh
# hl-sim guest launcher (machine side; sim/hlsim/guests.py).  What the
# machine does for a guest before its PID 1 runs, so that nothing of it
# lives in the guest's own files:
#   outer CMD...  puts itself in the guest's cgroups (HL_SIM_CGROUP_PROCS:
#                 their cgroup.procs files), then execs CMD (nsenter into
#                 the guest's netns, unshare of the other namespaces,
#                 the cgroup one included: the guest's cgroups are its
#                 root, as a VM's are)
#   inner ROOT DOCKER CGROUPS SPEC...  PID 1 of the new namespaces, before
#                 the chroot: proc, sysfs (the netns's), /run, the
#                 machine's cgroup hierarchies (each SPEC is DIR:TYPE:OPTS)
#                 on a tmpfs at /sys/fs/cgroup, /proc/cgroups showing only
#                 those (init scripts that mount "every controller", as
#                 Debian's docker one does, find them all mounted and make
#                 no hierarchy the machine does not have), the guest's
#                 own directory on the machine's disk at /var/lib/docker
#                 (overlay2 cannot stack on the overlay root); then
#                 pivot_root to ROOT (the machine's tree leaves the guest's
#                 mount namespace) and the simulator's init
#                 (/usr/lib/hl-sim/init, in the guest's machine layer) as
#                 PID 1, whatever /sbin/init is.
set -e
stage=$1
shift
case $stage in
outer)
	for f in $HL_SIM_CGROUP_PROCS; do
		echo $$ > "$f"
	done
	unset HL_SIM_CGROUP_PROCS
	exec "$@"
	;;
inner)
	r=$1 docker=$2 cgroups=$3
	shift 3
	mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
	mount -t sysfs -o nosuid,nodev,noexec sysfs "$r/sys"
	mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup "$r/sys/fs/cgroup"
	for spec; do
		d=${spec%%:*}
		rest=${spec#*:}
		mkdir "$r/sys/fs/cgroup/$d"
		mount -t "${rest%%:*}" -o "${rest#*:}" cgroup "$r/sys/fs/cgroup/$d"
	done
	mount -o remount,ro "$r/sys/fs/cgroup"
	mount --bind "$cgroups" "$r/proc/cgroups"
	mount -o remount,bind,ro "$r/proc/cgroups"
	mount --bind "$docker" "$r/var/lib/docker"
	mount -t tmpfs -o mode=755,nosuid,nodev run "$r/run"
	# pivot_root, not chroot: the guest's mount namespace then holds
	# only its own tree, so whatever joins it (docker exec, healthchecks:
	# runc setns()s into a container's namespace and takes its root) lands
	# in the guest's, never in the machine's
	cd "$r"
	pivot_root . .
	umount -l .
	cd /
	exec /usr/lib/hl-sim/init
	;;
esac
echo "launch.sh: unknown stage '$stage'" >&2
exit 2
