"""The SSRF guard against DNS rebinding: a delivery resolves the host once, checks the answer and
connects to exactly that address, while the Host header, TLS SNI and the certificate check keep
the URL's host name."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading

import pytest
import requests
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations import addresses
from integrations.dispatch import WebhookSettings, post
from tests.webhook_receiver import WebhookReceiver

PUBLIC = "93.184.216.34"


class RebindingDNS:
    """A resolver for one name that answers a public address first and loopback afterwards —
    what an attacker's DNS server does to slip past a check-then-connect guard."""

    def __init__(self, name: str):
        self.name = name
        self.lookups = 0
        self.real = socket.getaddrinfo

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = PUBLIC if self.lookups == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]


class Listener:
    """A TCP port on loopback that counts the connections it accepts (the private service)."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.socket.close()


@pytest.fixture
def rebinding(monkeypatch):
    """The rebinding DNS installed for 'rebind.test', and every outgoing connect recorded; connects
    outside this machine are refused so the test never depends on the network."""
    dns = RebindingDNS("rebind.test")
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    connects = []
    real_connect = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        connects.append(address)
        if address[0] not in ("127.0.0.1", "localhost", "rebind.test"):
            raise ConnectionRefusedError(f"test: no network to {address[0]}")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    listener = Listener()
    yield dns, connects, listener
    listener.close()


def test_check_then_connect_is_fooled_by_rebinding_dns(rebinding):
    """The control: checking the name, then letting the HTTP library resolve it again, reaches
    the private listener. This is the hole the pinned delivery closes."""
    dns, connects, listener = rebinding
    url = f"https://rebind.test:{listener.port}/hooks"
    addresses.check_url(url, allow_private=False)  # first answer: public, accepted
    with pytest.raises(requests.RequestException):
        requests.post(url, data=b"{}", timeout=2)
    assert dns.lookups == 2 and listener.accepted == 1


def test_a_delivery_connects_to_the_address_it_checked(rebinding):
    dns, connects, listener = rebinding
    answer = post(f"https://rebind.test:{listener.port}/hooks", b"{}", "whsec_k", event_id="evt_1",
                  settings=WebhookSettings(allow_private=False, timeout_seconds=2))
    assert dns.lookups == 1  # resolved once
    assert connects == [(PUBLIC, listener.port)]  # and connected to what was checked
    assert listener.accepted == 0
    assert answer.status is None and "no network" in answer.error


def test_rebinding_to_a_private_address_first_is_refused_before_connecting(rebinding, monkeypatch):
    dns, connects, listener = rebinding
    dns.lookups = 1  # the next answer is loopback
    answer = post(f"https://rebind.test:{listener.port}/hooks", b"{}", "whsec_k", event_id="evt_1",
                  settings=WebhookSettings(allow_private=False, timeout_seconds=2))
    assert answer.error.startswith("refused:") and "127.0.0.1" in answer.error
    assert connects == [] and listener.accepted == 0


def test_the_host_header_keeps_the_name_of_the_url():
    receiver = WebhookReceiver()
    try:
        port = receiver.server.server_address[1]
        lookups = []

        def resolver(host, port_):
            lookups.append(host)
            return ["127.0.0.1"]

        answer = post(f"http://hooks.invalid:{port}/hooks/zhida", b"{}", "whsec_k", event_id="evt_1",
                      settings=WebhookSettings(allow_private=True, resolver=resolver))
        assert answer.ok, answer
        assert lookups == ["hooks.invalid"]
        assert receiver.received[0].headers["Host"] == f"hooks.invalid:{port}"
    finally:
        receiver.close()


# ---- TLS: SNI and the certificate check use the host name, not the pinned address -------------

def _certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS receiver on loopback with a certificate for hooks.test; records SNI and Host."""
    cert_path, key_path = _certificate(tmp_path, "hooks.test")
    seen = {"sni": [], "host": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen["host"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(cert_path), seen
    server.shutdown()
    server.server_close()


def test_tls_to_a_pinned_address_verifies_the_certificate_against_the_host_name(tls_receiver):
    port, ca, seen = tls_receiver
    settings = WebhookSettings(allow_private=True, verify=ca, timeout_seconds=5,
                               resolver=lambda host, port_: ["127.0.0.1"])
    answer = post(f"https://hooks.test:{port}/x", b"{}", "whsec_k", event_id="evt_1", settings=settings)
    assert answer.ok, answer
    assert seen["sni"] == ["hooks.test"] and seen["host"] == [f"hooks.test:{port}"]
    # The same address under a name the certificate does not carry: refused by verification.
    wrong = post(f"https://other.test:{port}/x", b"{}", "whsec_k", event_id="evt_2", settings=settings)
    assert wrong.status is None and "certificate" in wrong.error.lower()
