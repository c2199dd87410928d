"""A small, typed door to the Kubernetes API: JSON dicts in and out, through the official client.

The official ``kubernetes`` client (extra ``kubernetes``) provides what is hard to get right:
kubeconfig, contexts, auth plugins, TLS. Requests themselves go through its ``ApiClient`` with the
resource paths of :data:`KINDS`, so every kind is applied, listed and deleted the same way (and a
test server only needs to speak HTTP). Every call is synchronous; async callers use
``asyncio.to_thread``.

Errors: :class:`KubeApiError` (a :class:`~autonomy.errors.ClusterError`) carries the HTTP status,
the API's reason and message, and names the request (method and path, never a body).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from autonomy.errors import ClusterError, MissingExtra

__all__ = ["KINDS", "Kind", "KubeApi", "KubeApiError", "APPLY_ORDER"]

FIELD_MANAGER = "autonomy"
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Kind:
    prefix: str        # "api/v1" or "apis/<group>/<version>"
    plural: str
    namespaced: bool = True


KINDS: dict[str, Kind] = {
    "Namespace": Kind("api/v1", "namespaces", namespaced=False),
    "Secret": Kind("api/v1", "secrets"),
    "ConfigMap": Kind("api/v1", "configmaps"),
    "Service": Kind("api/v1", "services"),
    "Pod": Kind("api/v1", "pods"),
    "Event": Kind("api/v1", "events"),
    "StatefulSet": Kind("apis/apps/v1", "statefulsets"),
    "Deployment": Kind("apis/apps/v1", "deployments"),
    "Ingress": Kind("apis/networking.k8s.io/v1", "ingresses"),
    "NetworkPolicy": Kind("apis/networking.k8s.io/v1", "networkpolicies"),
    "PodDisruptionBudget": Kind("apis/policy/v1", "poddisruptionbudgets"),
}
# The kinds a zone is made of, in the order they are applied (and pruned in reverse).
APPLY_ORDER = ("Namespace", "Secret", "ConfigMap", "Service", "PodDisruptionBudget", "StatefulSet", "Deployment",
               "NetworkPolicy", "Ingress")


class KubeApiError(ClusterError):
    """The Kubernetes API refused or failed a request."""

    def __init__(self, method: str, path: str, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.api_message = status, reason, message
        super().__init__(f"Kubernetes API {method} {path}: {status} {reason}: {message}")


def path_of(kind: str, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    """``/api/v1/namespaces/NS/pods/NAME/log`` and the like."""
    try:
        spec = KINDS[kind]
    except KeyError:
        raise ClusterError(f"kind {kind!r} is not one autonomy manages ({', '.join(KINDS)})") from None
    parts = [spec.prefix]
    if spec.namespaced and namespace is not None:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(spec.plural)
    if name is not None:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/" + "/".join(parts)


class KubeApi:
    """Requests to one API server, authenticated as the kubeconfig says."""

    def __init__(self, api_client: Any) -> None:
        self._client = api_client

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None) -> KubeApi:
        """The API server of ``context`` (default: the current context) of ``kubeconfig`` (default:
        ``$KUBECONFIG`` or ``~/.kube/config``)."""
        config = _import_config()
        try:
            return cls(config.new_client_from_config(config_file=kubeconfig, context=context, persist_config=False))
        except (config.ConfigException, OSError, ValueError) as exc:
            where = kubeconfig or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
            what = f"context {context!r}" if context else "its current context"
            raise ClusterError(f"Cannot use {what} of {where}: {exc}") from exc

    @classmethod
    def from_url(cls, host: str, token: str | None = None) -> KubeApi:
        """An API server at ``host`` (tests; a server reached without a kubeconfig)."""
        client = _import_client()
        configuration = client.Configuration()
        configuration.host = host
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return cls(client.ApiClient(configuration))

    @property
    def server(self) -> str:
        return str(self._client.configuration.host)

    def close(self) -> None:
        self._client.close()

    # --- raw ---------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, query: Mapping[str, Any] | None, body: Any, content_type: str | None,
              timeout: float | None) -> Any:
        url = path + ("?" + urlencode({k: v for k, v in (query or {}).items() if v is not None}) if query else "")
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        _, full_url, headers, body, _ = self._client.param_serialize(
            method, url, header_params=headers, body=body, auth_settings=["BearerToken"])
        import urllib3  # the official client's transport

        try:
            response = self._client.call_api(method, full_url, header_params=headers, body=body,
                                             _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, TLS, timeouts
            raise ClusterError(f"Kubernetes API {method} {path}: cannot reach {self.server}: {exc}") from exc
        if response.status >= 300:
            data = response.read()
            try:
                status = json.loads(data)
                reason, message = status.get("reason", ""), status.get("message", "")
            except ValueError:
                reason, message = response.reason or "", data.decode(errors="replace")[:500]
            raise KubeApiError(method, path, response.status, reason, message)
        return response

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
                content_type: str | None = None, timeout: float | None = REQUEST_TIMEOUT) -> Any:
        """The JSON answer of ``method path``; :class:`KubeApiError` on a status >= 300."""
        if body is not None and content_type is None:
            content_type = "application/json"
        data = self._send(method, path, query, body, content_type, timeout).read()
        return json.loads(data) if data else None

    def lines(self, path: str, *, query: Mapping[str, Any] | None = None,
              timeout: float | None = None) -> Iterator[str]:
        """The text answer of ``GET path`` line by line, as it streams (pod logs with ``follow``)."""
        response = self._send("GET", path, query, None, None, timeout)
        raw = response.response
        try:
            pending = b""
            for chunk in raw.stream(4096, decode_content=True):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.decode(errors="replace")
            if pending:
                yield pending.decode(errors="replace")
        finally:
            raw.release_conn()

    # --- objects -------------------------------------------------------------------------------------
    def version(self) -> tuple[int, int, str]:
        """``(major, minor, gitVersion)`` of the server."""
        info = self.request("GET", "/version")
        digits = "".join(ch for ch in str(info.get("minor", "0")) if ch.isdigit()) or "0"
        return int(info.get("major", "1") or 1), int(digits), str(info.get("gitVersion", ""))

    def apply(self, doc: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply of ``doc`` (field manager ``autonomy``, conflicts forced: we own these objects;
        unknown or duplicate fields refused by the server). ``dry_run``: validated and admitted, not stored."""
        meta = doc["metadata"]
        path = path_of(doc["kind"], meta.get("namespace"), meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true", "fieldValidation": "Strict",
                 "dryRun": "All" if dry_run else None}
        return self.request("PATCH", path, query=query, body=dict(doc), content_type="application/apply-patch+yaml")

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            return self.request("GET", path_of(kind, namespace, name))
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str | None = None, *, labels: str | None = None,
             fields: str | None = None) -> list[dict[str, Any]]:
        answer = self.request("GET", path_of(kind, namespace), query={"labelSelector": labels, "fieldSelector": fields})
        items = answer.get("items") or []
        api_version = KINDS[kind].prefix.split("/", 1)[1]  # "api/v1" -> "v1", "apis/apps/v1" -> "apps/v1"
        for item in items:  # list items lack kind/apiVersion on real servers
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items

    def delete(self, kind: str, namespace: str | None, name: str, *, propagation: str = "Background") -> bool:
        """Delete one object; False if it was already gone."""
        try:
            self.request("DELETE", path_of(kind, namespace, name),
                         body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation})
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, kind: str, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path_of(kind, namespace), body=dict(body))


def _import_client() -> Any:
    try:
        from kubernetes import client
    except ImportError as exc:
        raise MissingExtra("Kubernetes clusters", "kubernetes") from exc
    return client


def _import_config() -> Any:
    try:
        from kubernetes import config
    except ImportError as exc:
        raise MissingExtra("Kubernetes clusters", "kubernetes") from exc
    return config
