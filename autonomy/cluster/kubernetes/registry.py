"""Reading an image's digest from a registry (Docker Registry HTTP API v2), for ``--no-build``.

``HEAD /v2/<name>/manifests/<tag>`` with the OCI and Docker manifest media types accepted; the answer's
``Docker-Content-Digest`` is the digest ``docker push`` printed. Registries on loopback
(127.0.0.0/8, localhost) are spoken to over HTTP (as Docker does), every other one over HTTPS. A
registry asking for a bearer token gets an anonymous one from the realm it names.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

from autonomy.errors import ClusterError

__all__ = ["MANIFEST_TYPES", "manifest_digest"]

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _base(host: str) -> str:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        loopback = name == "localhost" or ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    return f"{'http' if loopback else 'https'}://{host}"


def manifest_digest(repository: str, tag: str, *, timeout: float = 30.0) -> str | None:
    """The digest of ``repository:tag`` (``host[:port]/path``), or None if the registry has no such tag."""
    host, _, name = repository.partition("/")
    url = f"{_base(host)}/v2/{name}/manifests/{tag}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as http:
            response = http.head(url, headers=headers)
            if response.status_code == 401:
                token = _anonymous_token(http, response.headers.get("www-authenticate", ""))
                if token:
                    response = http.head(url, headers={**headers, "Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise ClusterError(f"registry {host}: cannot read {name}:{tag} ({exc})") from exc
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise ClusterError(f"registry {host} refused to show {name}:{tag} ({response.status_code}): it needs "
                           "credentials, which --no-build does not support yet; deploy without --no-build")
    if response.status_code >= 300:
        raise ClusterError(f"registry {host}: HEAD {name}:{tag} answered {response.status_code}")
    digest = response.headers.get("docker-content-digest", "")
    if not _DIGEST.match(digest):
        raise ClusterError(f"registry {host}: {name}:{tag} has no valid Docker-Content-Digest ({digest!r})")
    return digest


def _anonymous_token(http: httpx.Client, challenge: str) -> str | None:
    if not challenge.lower().startswith("bearer "):
        return None
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = fields.pop("realm", None)
    if not realm:
        return None
    answer = http.get(realm, params=fields)
    if answer.status_code >= 300:
        return None
    body = answer.json()
    return body.get("token") or body.get("access_token")
