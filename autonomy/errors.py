"""Errors raised by autonomy.

Every error derives from :class:`AutonomyError`, so ``except AutonomyError`` catches them all.
Errors from NATS, HTTP, SQLite or Kubernetes are translated at the boundary where they happen,
with the original kept as ``__cause__``.

Each class has ``http_status``: the HTTP status a node route or the cluster controller's API answers
with when the error escapes a request (translated in one place each: :mod:`autonomy.agents.http_errors`
for node routes, :mod:`autonomy.cluster.api` for the controller). The CLI's exit code is derived from
it too (``docs/cli.md``). Statuses are in brackets below.

    AutonomyError [500]
    ├── InvalidName (also ValueError) [400]      a worker, agent or node name that is not [a-zA-Z0-9_-]+
    ├── AddressInUse (also ValueError) [409]     a worker, agent or mailbox already has that address on the node
    ├── DeliveryError [502]                      a message could not be delivered or answered
    │   ├── WorkerNotFound [404]                 no worker or mailbox at that address
    │   │   └── AgentNotFound [404]              (agents.errors) no agent, flow or tool of that name on the node
    │   ├── NodeNotFound [404]                   no node of that name in the cluster's fabric
    │   ├── NodeLeft [502]                       the remote node left while a request was pending
    │   ├── WorkerStopped [503]                  the worker was stopped before handling the message
    │   ├── MessageTooLarge (also ValueError) [413]  the message is larger than the fabric accepts
    │   ├── AccessDenied (also PermissionError) [403]  the target is outside this node's zone and did not opt in
    │   └── DeliveryTimeout (also TimeoutError) [504]  no reply within the timeout
    ├── WorkerError [500]                        the worker's handle_message raised; carries its message
    ├── FabricError [503]                        the node cannot use the fabric (connection, credentials)
    ├── RemoteNodeError (also RuntimeError) [502]  a remote node's controller refused or failed a request
    ├── ConfigError (also ValueError) [400]      bad configuration or input; names the field and the fix
    │   ├── InvalidMessage [422]                 an agent message (JSON) that does not follow the protocol
    │   ├── InputRefused [422]                   (agents.input_checks) a request over a limit (depth, size, surrogates)
    │   ├── ZoneSpecError [422]                  autonomy.yaml / secrets.yaml refused
    │   └── MissingExtra (also ImportError) [500]  an optional dependency is not installed
    ├── ClusterError [400]                       the control plane refused or failed an operation
    │   ├── ZoneNotFound [404]                   no zone of that name in the cluster
    │   ├── KubeApiError [400]                   (cluster.kubernetes.api) the Kubernetes API refused a request
    │   ├── RolloutFailed [400]                  (cluster.kubernetes.rollout) a pod cannot become ready (names why)
    │   ├── ControllerFailed [500]               the controller failed unexpectedly (a bug): see controller.log
    │   └── ClusterUnavailable [503]             the controller is not answering, starting or stopping, or
    │                                            the zone is being restored: retry later
    ├── GatewayError [500]                       the model gateway refused or failed a request (.status = http_status)
    │   ├── ModelNotFound [404]                  no configured provider serves that model name
    │   ├── ProviderUnavailable [502]            the provider is down or refused the gateway
    │   ├── GatewayBusy [429]                    the model's throttle queue is full or timed out
    │   ├── UpstreamError [the provider's 4xx]   (gateway.providers) the provider refused the request: passed through
    │   └── NotSupported [400]                   (gateway.providers) the provider has no such endpoint
    ├── ModelError [502]                         a model call failed; names the URL/provider and the fix
    │   ├── ModelTimeout (also TimeoutError) [504]  no answer in time, or too long in the throttle queue
    │   └── ModelUnreachable [502]               (models.clients) no connection after the retries (names the cause)
    ├── McpError [502]                           an MCP server could not be reached or refused a request
    ├── MemoryStoreError [500]                   (memory.store) the conversation store failed (open, read or write)
    ├── ImageError [500]                         (images.errors) an image could not be built, imported or pushed
    │   ├── DockerUnavailable [503]              no Docker Engine answers (says how to start one)
    │   ├── ImageBuildError [422]                a Dockerfile failed to build (names the step, shows the output tail)
    │   ├── ImagePushError [502]                 the registry refused or did not take a push
    │   └── BaseImageError [500]                 the base image could not be made (debootstrap, wheels, import)
    ├── SandboxUnavailable [503]                 (tools.sandbox) commands cannot run here: no working bubblewrap
    ├── FlowFailed [500]                         (flows.flow) a flow could not reach END; the message is its reply
    ├── AgentError [500]                         (agents.errors) the agent answered with an error
    │   └── TurnFailed [500]                     (agents.loop) a turn ended with an error the sender sees
    └── AgentTimeoutError (also asyncio.TimeoutError) [504]  (agents.errors) an agent operation timed out
        ├── AgentStartTimeoutError [504]         Agent.start(..., timeout=) expired
        ├── AgentStopTimeoutError [504]          Agent.stop(..., timeout=, raise_on_timeout=True) expired
        └── SendMessageTimeoutError [504]        AgentReference.send_message(..., timeout=) could not send in time

Internal, never seen by a caller (still under the root so nothing escapes the tree): the gateway's
``RetryableStatus`` (a retried provider answer) and its request refusals (``_HTTPError``); the public
gateway's ``RequestRefused`` (a malformed or oversized request head, answered and closed); the
console's ``_Refused`` (a refused console request, answered with its status). The node HTTP guard's
``_TooLarge`` is control flow inside that middleware and deliberately outside the tree.
"""

from __future__ import annotations

__all__ = [
    "AutonomyError",
    "InvalidName",
    "AddressInUse",
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
    "ZoneNotFound",
    "ControllerFailed",
    "ClusterUnavailable",
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
    """Root of every error raised by autonomy.

    ``http_status`` is the HTTP status a node route or the controller's API answers with when this
    error escapes a request (500: an unexpected failure).
    """

    http_status: int = 500


class InvalidName(AutonomyError, ValueError):
    """A name that is not made of ``a-z A-Z 0-9 _ -`` (upstream raises ValueError here)."""

    http_status = 400

    def __init__(self, kind: str, name: object) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"Invalid {kind} name {name!r}: use only letters, digits, '_' and '-'")


class AddressInUse(AutonomyError, ValueError):
    """A worker, agent or mailbox already has ``address`` on ``node`` (upstream raises ValueError here)."""

    http_status = 409

    def __init__(self, address: str, node: str) -> None:
        self.address = address
        self.node = node
        super().__init__(f"Address {address!r} is already in use on node {node!r}: stop it first, or use another name")


class DeliveryError(AutonomyError):
    """A message could not be delivered, or its reply could not come back."""

    http_status = 502


class WorkerNotFound(DeliveryError):
    """No worker, agent or mailbox listens at ``address`` (on ``node``)."""

    http_status = 404

    def __init__(self, address: str, node: str | None = None) -> None:
        self.address = address
        self.node = node
        where = f" on node {node!r}" if node else ""
        super().__init__(f"No worker at address {address!r}{where}: start it first, or check the name")


class NodeNotFound(DeliveryError):
    """No node of that name is in the cluster's fabric."""

    http_status = 404

    def __init__(self, node: str, detail: str = "") -> None:
        self.node = node
        super().__init__(
            f"Node {node!r} is not in this cluster's fabric{': ' + detail if detail else ''}. "
            "Use Zone.nodes(node) to list the nodes that are there"
        )


class NodeLeft(DeliveryError):
    """The remote node left the fabric (crashed or stopped) while a request to it was pending."""

    http_status = 502

    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"Node {node!r} left the fabric before replying")


class WorkerStopped(DeliveryError):
    """The worker was stopped before (or while) handling the message."""

    http_status = 503

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"Worker {address!r} was stopped before it handled the message")


class MessageTooLarge(DeliveryError, ValueError):
    """The message is larger than the fabric accepts."""

    http_status = 413

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

    http_status = 504

    def __init__(self, address: str, timeout: float, node: str | None = None) -> None:
        self.address = address
        self.timeout = timeout
        self.node = node
        where = f" on node {node!r}" if node else ""
        super().__init__(f"No reply from {address!r}{where} within {timeout:g} s")


class WorkerError(AutonomyError):
    """The worker's ``handle_message`` raised. ``message`` is the worker's error as text."""

    http_status = 500

    def __init__(self, address: str, message: str) -> None:
        self.address = address
        self.message = message
        super().__init__(f"Worker {address!r} failed: {message}")


class FabricError(AutonomyError):
    """The node cannot use its cluster's fabric (unreachable server, refused credentials)."""

    http_status = 503


class RemoteNodeError(AutonomyError, RuntimeError):
    """A remote node's controller answered ``success=False`` (upstream: ``RuntimeError("Remote node error: ...")``)."""

    http_status = 502

    def __init__(self, node: str, method: str, error: str | None) -> None:
        self.node = node
        self.method = method
        self.error = error
        super().__init__(f"Remote node error: {error} (node {node!r}, {method})")


class ConfigError(AutonomyError, ValueError):
    """Bad configuration or input. The message names the field or value and the fix."""

    http_status = 400


class InvalidMessage(ConfigError):
    """An agent message (spec §3.1) that cannot be decoded: ``field`` is where, ``value`` what was there."""

    http_status = 422

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

    http_status = 422

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path}: {message}" if path else f"{file}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


class MissingExtra(ConfigError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""

    http_status = 500

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'autonomy-runtime[{extra}]'")


class ClusterError(AutonomyError):
    """The control plane refused or failed an operation."""

    http_status = 400


class ZoneNotFound(ClusterError):
    """No zone named ``zone`` in this cluster."""

    http_status = 404

    def __init__(self, zone: str, message: str | None = None) -> None:
        self.zone = zone
        super().__init__(message or f"no zone {zone!r} in this cluster: `autonomy zone list` shows the zones")


class ControllerFailed(ClusterError):
    """The cluster controller failed unexpectedly (not a refusal); the message names its log, where the
    traceback is."""

    http_status = 500


class ClusterUnavailable(ClusterError):
    """The control plane cannot serve the request now (not answering, starting or stopping, or the zone is
    being restored): retry later; the message names the controller's log when it helps."""

    http_status = 503


# --- model gateway -------------------------------------------------------------------------------


class GatewayError(AutonomyError):
    """The model gateway refused or failed a request; ``status`` is the HTTP status it answers with."""

    http_status = 500
    code: str = "gateway_error"

    @property
    def status(self) -> int:
        """The HTTP status the gateway answers with (its ``http_status``; the gateway's own name for it)."""
        return self.http_status


class ModelNotFound(GatewayError):
    """No configured provider serves ``model`` and there is no default provider."""

    http_status = 404
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

    http_status = 502
    code = "provider_unavailable"

    def __init__(self, provider: str, detail: str) -> None:
        self.provider = provider
        self.detail = detail
        super().__init__(f"Model provider {provider!r} failed: {detail}")


class GatewayBusy(GatewayError):
    """Too many requests are queued for ``model``, or one waited longer than the queue allows."""

    http_status = 429
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

    http_status = 502

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

    http_status = 504


class McpError(AutonomyError):
    """An MCP server could not be reached, or refused a request. The message names its URL."""

    http_status = 502

    def __init__(self, message: str, *, server: str | None = None, url: str | None = None) -> None:
        self.server = server
        self.url = url
        super().__init__(message)
