"""The API's TLS: a private CA and a server certificate under `$TUG_HOME/pki/`, made with
`cryptography` on first start and reused after (the server certificate is made again from
the same CA when it lacks a name the server now answers to, or is within 30 days of its
end), so a client that trusts `ca.crt` keeps trusting every restart. Keys are written 0600."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from engine.api.names import is_ip
from engine.config import private_home, write_private

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA's certificate: what a client trusts
    cert: Path  # the server's certificate
    key: Path  # the server's key


def default_names(bind: str, extra: list[str] | None = None) -> list[str]:
    """What the server certificate must name: loopback, this machine's name, the address the
    API is bound to (unless it is every address), and any `--san` given."""
    names = ["127.0.0.1", "::1", "localhost", socket.gethostname()]
    if bind not in ("", "0.0.0.0", "::"):
        names.append(bind)
    for name in extra or []:
        if name and name not in names:
            names.append(name)
    return list(dict.fromkeys(names))


def _san(names: list[str]):  # type: ignore[no-untyped-def]
    from cryptography import x509

    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(out)


def _covers(cert_path: Path, names: list[str], now: datetime.datetime) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    given = {str(v) for v in have.get_values_for_type(x509.IPAddress)}
    given |= set(have.get_values_for_type(x509.DNSName))
    wanted = {str(ipaddress.ip_address(n)) if is_ip(n) else n for n in names}
    return wanted <= given and cert.not_valid_after_utc - now > RENEW_BEFORE


def ensure_pki(home: Path, names: list[str]) -> Pki:
    """The CA and a server certificate for `names`, made or reused (see the module's text)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    base = private_home(home) / "pki"
    base.mkdir(mode=0o700, exist_ok=True)
    pki = Pki(base / "ca.crt", base / "server.crt", base / "server.key")
    ca_key_path = base / "ca.key"
    now = datetime.datetime.now(datetime.UTC)
    pem = serialization.Encoding.PEM
    private = (serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or ca_cert.not_valid_after_utc <= now:
            raise ValueError("unusable")
    except (OSError, ValueError):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tugboat-ca@{int(now.timestamp())}")])
        ca_cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        write_private(ca_key_path, ca_key.private_bytes(pem, *private))
        write_private(pki.ca, ca_cert.public_bytes(pem))
        pki.cert.unlink(missing_ok=True)  # signed by the old CA: made again below
    if _covers(pki.cert, names, now) and pki.key.exists():
        return pki
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tugboat-apiserver")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(_san(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_private(pki.key, key.private_bytes(pem, *private))
    write_private(pki.cert, cert.public_bytes(pem))
    return pki


def server_context(pki: Pki):  # type: ignore[no-untyped-def]
    """An ssl.SSLContext serving the certificate (TLS 1.2 at least)."""
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.cert, pki.key)
    return ctx
