"""The gateway's configuration: providers, their models, throttling; JSON in and out.

A :class:`GatewayConfig` is plain data the cluster controller keeps in its state (``to_json`` /
``from_json``). It never holds a provider key in clear: a provider names the environment variable
(``api_key_env``) or the file (``api_key_file``) the key is read from when a request is made.

The ``model add`` / ``model list`` / ``model remove`` commands are the pure functions
:func:`add_provider`, :func:`list_providers` and :func:`remove_provider`: each returns a new config
and raises :class:`~autonomy.errors.ConfigError` naming the field when the input is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from autonomy.errors import ConfigError

__all__ = [
    "ProviderKind",
    "ThrottleConfig",
    "ProviderConfig",
    "GatewayConfig",
    "add_provider",
    "remove_provider",
    "list_providers",
    "offline_config",
]

ProviderKind = Literal["openai", "anthropic", "embedded"]
KINDS: tuple[str, ...] = ("openai", "anthropic", "embedded")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ThrottleConfig:
    """Per-model limits applied by the gateway in front of a provider.

    At most ``max_concurrency`` requests per model run at once; up to ``max_queue`` more wait, each
    at most ``queue_timeout`` seconds (then 429). Upstream 429/5xx answers are retried up to
    ``max_retries`` times, waiting ``Retry-After`` when given, else ``initial_backoff`` doubling up to
    ``max_backoff`` seconds.
    """

    max_concurrency: int = 16
    max_queue: int = 256
    queue_timeout: float = 60.0
    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 30.0

    def validate(self, where: str) -> None:
        for name in ("max_concurrency", "max_queue", "max_retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (1 if name == "max_concurrency" else 0):
                raise ConfigError(f"{where}.throttle.{name} = {value!r}: must be a whole number >= "
                                  f"{1 if name == 'max_concurrency' else 0}")
        for name in ("queue_timeout", "initial_backoff", "max_backoff"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}.throttle.{name} = {value!r}: must be a number of seconds >= 0")


@dataclass(frozen=True)
class ProviderConfig:
    """One model provider behind the gateway.

    ``kind``: ``openai`` (any OpenAI-compatible endpoint; ``url`` is its base URL, usually ending in
    ``/v1``), ``anthropic`` (the Anthropic Messages API through the ``anthropic`` SDK; ``url``
    optional) or ``embedded`` (a GGUF model run in the gateway's process; ``path`` optional, default
    the SmolLM2 model of the ``[local]`` extra, verified against its pinned hash; ``sha256``, when
    set, is checked before another file is loaded).
    ``models``: names this provider serves, passed to it verbatim. ``aliases``: other accepted names
    and the provider model each stands for. ``default``: this provider takes every name no provider
    lists; ``default_model``, when set, replaces such names (else they pass through verbatim).
    """

    name: str
    kind: ProviderKind
    url: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    models: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    default: bool = False
    default_model: str | None = None
    path: str | None = None
    sha256: str | None = None
    timeout: float = 120.0
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)

    def validate(self) -> None:
        where = f"providers[{self.name!r}]"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"provider name {self.name!r}: use 1-40 characters of a-z, 0-9, '_', '-' "
                              "starting with a letter or digit")
        if self.kind not in KINDS:
            raise ConfigError(f"{where}.kind = {self.kind!r}: must be one of {', '.join(KINDS)}")
        if self.kind == "openai" and not self.url:
            raise ConfigError(f"{where}.url is required for an OpenAI-compatible provider: pass --url "
                              "https://host/v1")
        if self.url is not None and not re.match(r"^https?://[^\s/]+", self.url):
            raise ConfigError(f"{where}.url = {self.url!r}: must be an http:// or https:// URL")
        if self.api_key_env is not None and not _ENV.match(self.api_key_env):
            raise ConfigError(f"{where}.api_key_env = {self.api_key_env!r}: must be an environment variable "
                              "NAME (e.g. OPENAI_API_KEY), not the key itself")
        if self.api_key_env and self.api_key_file:
            raise ConfigError(f"{where}: set api_key_env or api_key_file, not both")
        if self.kind == "embedded" and (self.api_key_env or self.api_key_file):
            raise ConfigError(f"{where}: an embedded model takes no API key: remove api_key_env/api_key_file")
        if (self.path is not None or self.sha256 is not None) and self.kind != "embedded":
            raise ConfigError(f"{where}.path and .sha256 are only for kind 'embedded' (a GGUF file)")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
            raise ConfigError(f"{where}.sha256 = {self.sha256!r}: must be 64 hex digits")
        for model in (*self.models, *self.aliases, *self.aliases.values()):
            if not isinstance(model, str) or not model or len(model) > 200:
                raise ConfigError(f"{where}.models: model name {model!r} must be a non-empty string")
        if not isinstance(self.timeout, int | float) or self.timeout <= 0:
            raise ConfigError(f"{where}.timeout = {self.timeout!r}: must be a number of seconds > 0")
        self.throttle.validate(where)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"provider {data.get('name')!r}: unknown field(s) {', '.join(sorted(unknown))}")
        values = dict(data)
        values["models"] = tuple(values.get("models") or ())
        values["aliases"] = dict(values.get("aliases") or {})
        values["throttle"] = ThrottleConfig(**(values.get("throttle") or {}))
        provider = cls(**values)
        provider.validate()
        return provider


@dataclass(frozen=True)
class GatewayConfig:
    """The providers behind the gateway, in routing order (see :mod:`autonomy.gateway.routing`)."""

    providers: tuple[ProviderConfig, ...] = ()

    def validate(self) -> None:
        seen: set[str] = set()
        for provider in self.providers:
            provider.validate()
            if provider.name in seen:
                raise ConfigError(f"providers: two providers are named {provider.name!r}: names must be unique")
            seen.add(provider.name)
        defaults = [p.name for p in self.providers if p.default]
        if len(defaults) > 1:
            raise ConfigError(f"providers: {', '.join(defaults)} are all marked default: keep one")

    def provider(self, name: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise ConfigError(f"no provider named {name!r} (configured: "
                          f"{', '.join(p.name for p in self.providers) or 'none'})")

    def to_dict(self) -> dict[str, Any]:
        return {"providers": [p.to_dict() for p in self.providers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayConfig:
        config = cls(tuple(ProviderConfig.from_dict(p) for p in data.get("providers") or ()))
        config.validate()
        return config

    @classmethod
    def from_json(cls, text: str) -> GatewayConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"gateway config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def offline_config() -> GatewayConfig:
    """A cluster's config before any ``model add``: the embedded SmolLM2 model takes every name."""
    return GatewayConfig((ProviderConfig(name="local", kind="embedded", models=("smollm2",), default=True,
                                         default_model="smollm2",
                                         throttle=ThrottleConfig(max_concurrency=1, max_queue=64)),))


def add_provider(
    config: GatewayConfig,
    name: str,
    *,
    url: str | None = None,
    kind: ProviderKind | None = None,
    api_key_env: str | None = None,
    api_key_file: str | None = None,
    models: list[str] | None = None,
    default: bool = False,
    default_model: str | None = None,
    replace_existing: bool = False,
) -> GatewayConfig:
    """``autonomy model add NAME --url URL [--api-key-env VAR] [--default]``: a new config with the provider.

    ``kind`` defaults to ``openai`` when a URL is given, else ``anthropic`` if the name says so.
    ``--default`` takes the default role from any other provider. An existing name is refused unless
    ``replace_existing``.
    """
    if kind is None:
        kind = "openai" if url else ("anthropic" if "anthropic" in name or "claude" in name else "openai")
    provider = ProviderConfig(name=name, kind=kind, url=url, api_key_env=api_key_env, api_key_file=api_key_file,
                              models=tuple(models or ()), default=default, default_model=default_model)
    provider.validate()
    others = []
    for existing in config.providers:
        if existing.name == name:
            if not replace_existing:
                raise ConfigError(f"name: a provider named {name!r} exists already: remove it first")
            continue
        others.append(replace(existing, default=False) if default else existing)
    new = GatewayConfig((*others, provider))
    new.validate()
    return new


def remove_provider(config: GatewayConfig, name: str) -> GatewayConfig:
    """``autonomy model remove NAME``: a new config without that provider (unknown name -> ConfigError)."""
    config.provider(name)
    return GatewayConfig(tuple(p for p in config.providers if p.name != name))


def list_providers(config: GatewayConfig) -> list[dict[str, Any]]:
    """``autonomy model list``: one row per provider (name, kind, url, key source, models, default)."""
    rows = []
    for p in config.providers:
        key = f"env:{p.api_key_env}" if p.api_key_env else (f"file:{p.api_key_file}" if p.api_key_file else "-")
        rows.append({"name": p.name, "kind": p.kind, "url": p.url or p.path or "-", "key": key,
                     "models": list(p.models) + sorted(p.aliases), "default": p.default})
    return rows
