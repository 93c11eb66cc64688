"""The simulator's CA and per-node certificates, made with the openssl command.

As in PVE (pve-cluster src/PVE/Cluster/Setup.pm gen_pve_ssl_cert), each node
has a certificate signed by the cluster's own CA, with SANs for 127.0.0.1,
localhost and the node name; its fingerprint is the SHA-256 of the DER
certificate, upper-case hex with colons, as GET /nodes reports it.
"""

import hashlib
import os
import ssl
import subprocess


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def fingerprint(pem_path):
    """SHA-256 of the DER certificate at pem_path, as AA:BB:..."""
    with open(pem_path, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def ensure(tls_dir, nodes):
    """Make the CA and one certificate per node in tls_dir, once.

    Returns {node: {"cert", "key", "fingerprint"}} and the CA file's path.
    """
    os.makedirs(tls_dir, mode=0o700, exist_ok=True)
    ca_key = os.path.join(tls_dir, "pve-root-ca.key")
    ca_pem = os.path.join(tls_dir, "pve-root-ca.pem")
    if not os.path.exists(ca_pem):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
                 "-out", ca_pem, "-days", "3650", "-subj",
                 "/CN=hl-sim Proxmox Virtual Environment/O=PVE Cluster Manager CA")
    out = {}
    for node in nodes:
        key = os.path.join(tls_dir, node + ".key")
        pem = os.path.join(tls_dir, node + ".pem")
        if not os.path.exists(pem):
            csr = os.path.join(tls_dir, node + ".csr")
            ext = os.path.join(tls_dir, node + ".ext")
            with open(ext, "w", encoding="ascii") as f:
                f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,"
                        "DNS:%s\nextendedKeyUsage=serverAuth\n" % node)
            _openssl("req", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                     "-out", csr, "-subj",
                     "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=%s"
                     % node)
            _openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey",
                     ca_key, "-CAcreateserial", "-out", pem, "-days", "3650",
                     "-extfile", ext)
            os.unlink(csr)
            os.unlink(ext)
        out[node] = {"cert": pem, "key": key, "fingerprint": fingerprint(pem)}
    return out, ca_pem
