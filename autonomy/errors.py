"""Errors raised by autonomy.

Every error derives from :class:`AutonomyError`, so ``except AutonomyError`` catches them all.
Errors from NATS, HTTP, SQLite or Kubernetes are translated at the boundary where they happen,
with the original kept as ``__cause__``.

    AutonomyError
    ├── InvalidName (also ValueError)         a worker, agent or node name that is not [a-zA-Z0-9_-]+
    ├── DeliveryError                         a message could not be delivered or answered
    │   ├── WorkerNotFound                    no worker or mailbox at that address
    │   ├── NodeNotFound                      no node of that name in the cluster's fabric
    │   ├── NodeLeft                          the remote node left while a request was pending
    │   ├── WorkerStopped                     the worker was stopped before handling the message
    │   ├── MessageTooLarge (also ValueError) the message is larger than the fabric accepts
    │   ├── AccessDenied (also PermissionError) the target is outside this node's zone and did not opt in
    │   └── DeliveryTimeout (also TimeoutError) no reply within the timeout
    ├── WorkerError                           the worker's handle_message raised; carries its message
    ├── FabricError                           the node cannot use the fabric (connection, credentials)
    ├── RemoteNodeError (also RuntimeError)   a remote node's controller refused or failed a request
    ├── ConfigError (also ValueError)         bad configuration or input; names the field and the fix
    │   ├── InvalidMessage                    an agent message (JSON) that does not follow the protocol
    │   ├── ZoneSpecError                     autonomy.yaml / secrets.yaml refused
    │   └── MissingExtra (also ImportError)   an optional dependency is not installed
    ├── ClusterError                          the control plane refused or failed an operation
    └── GatewayError                          the model gateway refused or failed a request (has .status)
        ├── ModelNotFound                     no configured provider serves that model name (404)
        ├── ProviderUnavailable               the provider is down or refused the gateway (502)
        └── GatewayBusy                       the model's throttle queue is full or timed out (429)
    ├── ModelError                            a model call failed; names the URL/provider and the fix
    │   └── ModelTimeout (also TimeoutError)  no answer in time, or too long in the throttle queue
    └── McpError                              an MCP server could not be reached or refused a request
"""

from __future__ import annotations

__all__ = [
    "AutonomyError",
    "InvalidName",
    "DeliveryError",
    "WorkerNotFound",
    "NodeNotFound",
    "NodeLeft",
    "WorkerStopped",
    "MessageTooLarge",
    "DeliveryTimeout",
    "AccessDenied",
    "WorkerError",
    "FabricError",
    "RemoteNodeError",
    "ConfigError",
    "ZoneSpecError",
    "InvalidMessage",
    "MissingExtra",
    "ClusterError",
    # model gateway
    "GatewayError",
    "ModelNotFound",
    "ProviderUnavailable",
    "GatewayBusy",
    # models and MCP
    "ModelError",
    "ModelTimeout",
    "McpError",
]


class AutonomyError(Exception):
    """Root of every error raised by autonomy."""


class InvalidName(AutonomyError, ValueError):
    """A name that is not made of ``a-z A-Z 0-9 _ -`` (upstream raises ValueError here)."""

    def __init__(self, kind: str, name: object) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"Invalid {kind} name {name!r}: use only letters, digits, '_' and '-'")


class DeliveryError(AutonomyError):
    """A message could not be delivered, or its reply could not come back."""


class WorkerNotFound(DeliveryError):
    """No worker, agent or mailbox listens at ``address`` (on ``node``)."""

    def __init__(self, address: str, node: str | None = None) -> None:
        self.address = address
        self.node = node
        where = f" on node {node!r}" if node else ""
        super().__init__(f"No worker at address {address!r}{where}: start it first, or check the name")


class NodeNotFound(DeliveryError):
    """No node of that name is in the cluster's fabric."""

    def __init__(self, node: str, detail: str = "") -> None:
        self.node = node
        super().__init__(
            f"Node {node!r} is not in this cluster's fabric{': ' + detail if detail else ''}. "
            "Use Zone.nodes(node) to list the nodes that are there"
        )


class NodeLeft(DeliveryError):
    """The remote node left the fabric (crashed or stopped) while a request to it was pending."""

    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"Node {node!r} left the fabric before replying")


class WorkerStopped(DeliveryError):
    """The worker was stopped before (or while) handling the message."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"Worker {address!r} was stopped before it handled the message")


class MessageTooLarge(DeliveryError, ValueError):
    """The message is larger than the fabric accepts."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"Message of {size} bytes is larger than the fabric's limit of {limit} bytes: "
            "send a reference (a URL, a file name) instead, or split it"
        )


class AccessDenied(DeliveryError, PermissionError):
    """The fabric refused the message: the zone is the trust boundary (docs/security.md).

    Raised when a node addresses a node of another zone that did not opt in to cluster-wide access
    (``Node.start(allow="cluster")``), a node controller outside its zone (shipping workers), or a
    subject its zone's NATS user may not use (the server's permissions violation).
    """

    http_status = 403  # for main's one-place status mapping (errors carry http_status there)

    def __init__(self, node: str | None, reason: str) -> None:
        self.node = node
        self.reason = reason
        super().__init__(f"Refused{f' by or for node {node!r}' if node else ''}: {reason}")


class DeliveryTimeout(DeliveryError, TimeoutError):
    """No reply arrived within the timeout."""

    def __init__(self, address: str, timeout: float, node: str | None = None) -> None:
        self.address = address
        self.timeout = timeout
        self.node = node
        where = f" on node {node!r}" if node else ""
        super().__init__(f"No reply from {address!r}{where} within {timeout:g} s")


class WorkerError(AutonomyError):
    """The worker's ``handle_message`` raised. ``message`` is the worker's error as text."""

    def __init__(self, address: str, message: str) -> None:
        self.address = address
        self.message = message
        super().__init__(f"Worker {address!r} failed: {message}")


class FabricError(AutonomyError):
    """The node cannot use its cluster's fabric (unreachable server, refused credentials)."""


class RemoteNodeError(AutonomyError, RuntimeError):
    """A remote node's controller answered ``success=False`` (upstream: ``RuntimeError("Remote node error: ...")``)."""

    def __init__(self, node: str, method: str, error: str | None) -> None:
        self.node = node
        self.method = method
        self.error = error
        super().__init__(f"Remote node error: {error} (node {node!r}, {method})")


class ConfigError(AutonomyError, ValueError):
    """Bad configuration or input. The message names the field or value and the fix."""


class InvalidMessage(ConfigError):
    """An agent message (spec §3.1) that cannot be decoded: ``field`` is where, ``value`` what was there."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"Invalid agent message: {field} is {shown}, expected {expected}")


class ZoneSpecError(ConfigError):
    """``autonomy.yaml`` or ``secrets.yaml`` was refused.

    ``problems`` lists every problem found, each as ``(path, message)``.
    """

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path}: {message}" if path else f"{file}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


class MissingExtra(ConfigError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'autonomy-runtime[{extra}]'")


class ClusterError(AutonomyError):
    """The control plane refused or failed an operation."""


# --- model gateway -------------------------------------------------------------------------------


class GatewayError(AutonomyError):
    """The model gateway refused or failed a request; ``status`` is the HTTP status it answers with."""

    status: int = 500
    code: str = "gateway_error"


class ModelNotFound(GatewayError):
    """No configured provider serves ``model`` and there is no default provider."""

    status = 404
    code = "model_not_found"

    def __init__(self, model: str, available: list[str]) -> None:
        self.model = model
        self.available = available
        if not available:
            super().__init__(
                f"Model {model!r}: no model provider is configured in this cluster's gateway. Add one with "
                "'autonomy cluster model add NAME --url URL --api-key-env VAR --default', or use the embedded "
                "demo model: pip install 'autonomy-runtime[local]', then "
                "'autonomy cluster model add local --kind embedded --default'")
            return
        super().__init__(f"Model {model!r} is not served by this gateway (configured models: "
                         f"{', '.join(available)}): use one of those names, or add a provider with "
                         "'autonomy cluster model add'")


class ProviderUnavailable(GatewayError):
    """The provider named ``provider`` is down, unreachable or refused the gateway's request."""

    status = 502
    code = "provider_unavailable"

    def __init__(self, provider: str, detail: str) -> None:
        self.provider = provider
        self.detail = detail
        super().__init__(f"Model provider {provider!r} failed: {detail}")


class GatewayBusy(GatewayError):
    """Too many requests are queued for ``model``, or one waited longer than the queue allows."""

    status = 429
    code = "rate_limit_exceeded"

    def __init__(self, model: str, detail: str, retry_after: float = 1.0) -> None:
        self.model = model
        self.retry_after = retry_after
        super().__init__(f"Model {model!r} is busy: {detail}; retry after {retry_after:g} s")


class ModelError(AutonomyError):
    """A model call failed. The message names the model, the URL or provider, and what to do.

    ``status`` is the HTTP status when the endpoint answered; ``retry_after`` its ``Retry-After`` (s);
    ``retryable`` is true for answers that mean "try later" (429, 5xx).
    """

    def __init__(self, message: str, *, model: str | None = None, url: str | None = None,
                 status: int | None = None, retry_after: float | None = None) -> None:
        self.model = model
        self.url = url
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        return self.status is not None and (self.status == 429 or self.status >= 500)


class ModelTimeout(ModelError, TimeoutError):
    """The model did not answer in time, or the request waited too long in the throttle queue."""


class McpError(AutonomyError):
    """An MCP server could not be reached, or refused a request. The message names its URL."""

    def __init__(self, message: str, *, server: str | None = None, url: str | None = None) -> None:
        self.server = server
        self.url = url
        super().__init__(message)
