# hl: the operational interface.  `just --list` shows the recipes.
# Recipes load the simulator's .hl/sim.env when it exists, so the tools
# find the running simulator with no flags.

set dotenv-load := true
set dotenv-path := ".hl/sim.env"
set dotenv-required := false
set positional-arguments := true

bin := justfile_directory() / "bin"
scripts := justfile_directory() / "scripts"

# Install packages and just, build, make the example lab's key pair
setup:
    {{scripts}}/setup

# The whole lab from nothing (or what is missing of it): simulator, runway, templates, VMs, OS, data, stacks, verified; again: changes nothing
up:
    {{scripts}}/up

# One host made anew as one resumable, verified transaction: capture, destroy, apply, converge, restore, deploy, verify (snapshot=ID to restore that one)
rebuild HOST *SNAPSHOT:
    {{scripts}}/rebuild "$@"

# One row per host across the layers: VM, template, last converge and deploy, newest snapshot, last verify
status *SELECTORS:
    @{{scripts}}/status "$@"

# Which layers each host needs since the commit it last applied (--live: ask the hosts too)
drift *ARGS:
    {{bin}}/hl-validate drift "$@"

# Run exactly the layers drift names, for exactly the hosts that need them
sync *SELECTORS:
    {{scripts}}/sync "$@"

# Check the specs (all hosts, or the given selectors)
validate *SELECTORS:
    {{bin}}/hl-validate specs "$@"

# Show each host's effective configuration
show *SELECTORS:
    {{bin}}/hl-validate show "$@"

# L0: is the hypervisor ready for the hosts? (read-only checks)
runway *SELECTORS:
    {{bin}}/hl-validate runway "$@"

# L1: build a template on a node (default: lab defaults.node), e.g. just template debian-12 --all-nodes
template NAME *ARGS:
    {{bin}}/hl-template build "$@"

# L1: point a template's channel at its newest artifact (and commit), e.g. just promote debian-12
promote NAME *ARGS:
    {{bin}}/hl-template promote "$@"

# L1: point a template's channel back at the artifact before it (and commit)
rollback NAME *ARGS:
    {{bin}}/hl-template rollback "$@"

# L1: the templates, their artifacts, clones and channels
templates *ARGS:
    {{bin}}/hl-template list "$@"

# L1: templates and artifacts nothing needs: listed; --yes removes them (and commits)
template-gc *ARGS:
    {{bin}}/hl-template gc "$@"

# L2: what would change to make every VM as declared (read-only; -o FILE saves it)
plan *ARGS:
    {{bin}}/hl-vm plan "$@"

# L2: make every VM as declared: create, resume, update (--plan FILE: a saved plan)
apply *ARGS:
    {{bin}}/hl-vm apply "$@"

# L2: destroy the hosts' VMs hl made (needs selectors, and --yes to act)
destroy +ARGS:
    {{bin}}/hl-vm destroy "$@"

# L2: each VM's existence, node, power, address and provenance
vm-status *SELECTORS:
    {{bin}}/hl-vm status "$@"

# L3: converge each host's OS with Ansible, its roles from the specs (all hosts, or the given selectors)
converge *ARGS:
    {{bin}}/hl-converge apply "$@"

# L3: what converge would change on each host, changing nothing (--exit-code: exit 1 on drift)
converge-check *ARGS:
    {{bin}}/hl-converge check "$@"

# L4: deploy each host's Compose stacks that changed, health-gated, rolled back on failure
deploy *ARGS:
    {{bin}}/hl-deploy apply "$@"

# L4: what deploy would do per host and stack (--exit-code: exit 1 when anything would change)
deploy-plan *ARGS:
    {{bin}}/hl-deploy plan "$@"

# Run the test suite
test:
    make test

# Start the Proxmox VE simulator in the background; writes .hl/sim.env (--state DIR, --port N, --config FILE)
lab-up *ARGS:
    {{justfile_directory()}}/sim/hl-sim start "$@"

# Stop the simulator; nothing of it keeps running (--state DIR for one started so)
lab-down *ARGS:
    {{justfile_directory()}}/sim/hl-sim stop "$@"

# Whether the simulator runs, as JSON {running, pid, endpoint, state}; exits 0 either way
lab-status *ARGS:
    {{justfile_directory()}}/sim/hl-sim status "$@"

# Capture: back up each host's data paths with restic (hosts whose data is authoritative)
capture *ARGS:
    {{bin}}/hl-capture data "$@"

# Capture: put a host's latest snapshot (or --snapshot ID) back over its data paths (--yes over data it holds)
restore +ARGS:
    {{bin}}/hl-capture restore "$@"

# Capture: each host's snapshots
snapshots *ARGS:
    {{bin}}/hl-capture list "$@"

# Capture: prove each host's data restores: restic check reading the data, and a restore drill checked against the snapshot's checksums
verify *ARGS:
    {{bin}}/hl-capture verify "$@"
