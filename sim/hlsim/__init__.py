"""hl's Proxmox VE simulator: the API, faithful to PVE's (docs in sim/README.md)."""
