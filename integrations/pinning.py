"""POSTing to the address the SSRF guard checked, not to whatever the host name resolves to
a moment later: a requests transport adapter that connects to the pinned address while the
Host header, TLS SNI and the certificate check keep the URL's host name."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from integrations.addresses import Target


class PinnedAdapter(HTTPAdapter):
    """Every connection of this adapter goes to ``target.address``."""

    def __init__(self, target: Target):
        self.target = target
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params = {**host_params, "host": self.target.address}
        if host_params.get("scheme") == "https":
            # SNI and the certificate's name check stay on the host name, not the address.
            pool_kwargs = {**pool_kwargs, "server_hostname": self.target.hostname,
                           "assert_hostname": self.target.hostname}
        return host_params, pool_kwargs


def host_header(target: Target) -> str:
    """The Host header of the URL (the port only when it is not the scheme's default)."""
    name = f"[{target.hostname}]" if ":" in target.hostname else target.hostname
    default = 443 if target.scheme == "https" else 80
    return name if target.port == default else f"{name}:{target.port}"


def pinned_post(url: str, target: Target, *, data: bytes, headers: dict, timeout: float,
                verify: bool | str = True) -> requests.Response:
    """One POST to ``url`` over a connection to ``target.address``; no proxies from the
    environment (a proxy would resolve the name again), no redirects."""
    with requests.Session() as session:
        session.trust_env = False
        adapter = PinnedAdapter(target)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session.post(url, data=data, timeout=timeout, allow_redirects=False, verify=verify,
                            headers={**headers, "Host": host_header(target)})
