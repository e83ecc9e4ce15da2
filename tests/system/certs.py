"""Self-signed certificates for the system tests and the demo.

Uses the openssl command line tool only, so nothing beyond the Python
standard library is needed.
"""

import os
import subprocess


def make_cert(directory, name, sans, key_type="ec", days=30):
    """Write a self-signed certificate and its key into DIRECTORY.

    NAME is the file stem and the subject CN; SANS a list of DNS names
    and IP addresses (an entry that parses as an address becomes an IP
    SAN).  KEY_TYPE is "ec" (P-256) or "rsa" (2048 bits).  The
    certificate is its own CA (basicConstraints CA:TRUE), so it can be
    given to a verifying client as the trust anchor.
    Returns (cert_path, key_path).
    """
    import ipaddress

    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    alt = []
    for s in sans:
        try:
            ipaddress.ip_address(s)
            alt.append("IP:" + s)
        except ValueError:
            alt.append("DNS:" + s)
    if key_type == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    elif key_type == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    else:
        raise ValueError("key_type must be ec or rsa")
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", *newkey,
         "-keyout", key, "-out", cert, "-days", str(days),
         "-subj", "/CN=" + name,
         "-addext", "subjectAltName=" + ",".join(alt),
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.chmod(key, 0o644)
    return cert, key


def cert_subject(cert_pem_text):
    """Return the subject line of a PEM certificate given as text."""
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                         input=cert_pem_text, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def make_ca(directory, name, days=30):
    """Write a certificate authority (self-signed, CA:TRUE, EC P-256)
    into DIRECTORY.  Returns (cert_path, key_path)."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256",
         "-keyout", key, "-out", cert, "-days", str(days),
         "-subj", "/CN=" + name,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def make_signed_cert(directory, name, sans, ca, days=30):
    """Write a server certificate for SANS signed by CA ((cert, key) of
    make_ca), and its key, into DIRECTORY.  The certificate is a leaf
    (CA:FALSE, serverAuth): trusting it alone is not enough, a verifier
    needs the CA.  Returns (cert_path, key_path)."""
    import ipaddress

    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    alt = []
    for s in sans:
        try:
            ipaddress.ip_address(s)
            alt.append("IP:" + s)
        except ValueError:
            alt.append("DNS:" + s)
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=%s\n" % ",".join(alt))
    subprocess.run(
        ["openssl", "req", "-new", "-nodes", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256",
         "-keyout", key, "-out", csr, "-subj", "/CN=" + name],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca[0],
         "-CAkey", ca[1], "-CAcreateserial", "-out", cert,
         "-days", str(days), "-extfile", ext],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.chmod(key, 0o644)
    return cert, key
