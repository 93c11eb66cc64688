#!/bin/sh
# hl-sim guest init: PID 1 of a simulated VM, /usr/lib/hl-sim/init in the
# guest's machine layer (sim/hlsim/guests.py), started by launch.sh.  It boots a Debian cloud image the way
# systemd does on a real VM, in Debian's order (sim-guests.md):
# cloud-init local -> ifup -a -> cloud-init init -> ssh -> qemu-guest-agent
# -> cloud-init config -> cloud-init final -> the rest of runlevel 2.
# Services start and stop through their init scripts; SIGTERM (a shutdown)
# stops them in reverse order and ends the guest.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

# proc, sysfs, /run, the cgroups and /var/lib/docker: launch.sh, before
# the chroot
mount -t tmpfs -o mode=755,nosuid dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mknod -m 666 /dev/fuse c 10 229
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mkdir -p /run/lock /run/sshd
chmod 1777 /run/lock
# utmp's runlevel record (RUN_LVL, "N 2"), as init writes it: what
# runlevel(8) reads, whichever the guest has (the simulator's, systemd's
# or sysvinit's), so invoke-rc.d starts services (struct utmp, 384 bytes)
{
	printf '\001\000\000\0002N\000\000~'
	head -c 31 /dev/zero
	printf '~~\000\000runlevel'
	head -c 332 /dev/zero
} > /run/utmp
hostname -F /etc/hostname

# each line with the guest's uptime (its own clock: a time namespace)
log() { read -r up _ < /proc/uptime; echo "[hl-sim init ${up}s] $*"; }
step() { log "$*"; "$@" || log "$* exited $?"; }
svc() { [ -x "/etc/init.d/$1" ] && step "/etc/init.d/$1" "$2"; }

# What runlevel 2 starts besides cloud-init's own stages and sudo.
services() {
	for l in /etc/rc2.d/S*; do
		[ -e "$l" ] || continue
		s=${l##*/S[0-9][0-9]}
		case $s in cloud-*|sudo) ;; *) echo "$s" ;; esac
	done
}

down() {
	log "shutting down"
	rm -f /run/hl-sim-booted
	for s in $(services | sort -r); do svc "$s" stop; done
	log "halted"
	exit 0
}
trap down TERM INT

step cloud-init init --local
step ifup -a
step cloud-init init
svc ssh start
svc qemu-guest-agent start
step cloud-init modules --mode config
step cloud-init modules --mode final
for s in $(services); do
	case $s in ssh|qemu-guest-agent) ;; *) svc "$s" start ;; esac
done
: > /run/hl-sim-booted
log "boot finished"
while :; do
	sleep 3600 &
	wait
done
