"""``autonomy cluster model add | list | remove``: the model providers behind the cluster's gateway.

Changes apply to the running gateway at once and are kept in the cluster's state (across
``cluster stop`` and start). Provider keys are never sent as arguments: ``--api-key-env VAR`` names a
variable (its value in this shell is handed to the running controller, which keeps it in memory; a
controller started later reads ``VAR`` from the shell that starts it), ``--api-key-file F`` a file the
controller reads at each request. See docs/gateway.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from autonomy.cli.cluster import client
from autonomy.cli.output import OUTPUT_OPTION, Printer

__all__ = ["model"]


@click.group()
def model() -> None:
    """Add, list and remove the model providers of the cluster's gateway."""


@model.command()
@click.argument("name")
@click.option("--url", help="The provider's base URL, e.g. https://api.openai.com/v1 (kind openai).")
@click.option("--api-key-env", metavar="VAR",
              help="The environment variable holding the provider's key (its value in this shell is used).")
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the provider's key, read by the controller at each request.")
@click.option("--kind", type=click.Choice(["openai", "anthropic", "embedded"]),
              help="openai (any OpenAI-compatible endpoint; the default with --url), anthropic, or embedded "
                   "(the local demo model of the [local] extra).")
@click.option("--model", "models", multiple=True, metavar="M",
              help="A model name this provider serves (repeat for several).")
@click.option("--default", is_flag=True, help="Send every model name no provider lists to this provider.")
@OUTPUT_OPTION
def add(name: str, url: str | None, api_key_env: str | None, api_key_file: Path | None, kind: str | None,
        models: tuple[str, ...], default: bool, output: str) -> None:
    """Add provider NAME to the cluster's model gateway."""
    printer = Printer(output)
    result = client().add_model(name, url=url, kind=kind, api_key_env=api_key_env, api_key_file=api_key_file,
                                models=list(models), default=default)
    for warning in result.get("warnings") or []:
        printer.note(warning, "warning")
    printer.data(result)
    row = result.get("provider") or {}
    printer.line(f"Added model provider {name} ({row.get('kind')}"
                 f"{', default' if row.get('default') else ''}).")


@model.command(name="list")
@OUTPUT_OPTION
def list_(output: str) -> None:
    """List the model providers of the cluster's gateway, in routing order."""
    printer = Printer(output)
    info = client().list_models()
    providers = info.get("providers") or []
    printer.data(providers)
    printer.table(
        ["name", "kind", "url", "key", "models", "default"],
        [(p.get("name"), p.get("kind"), p.get("url"), p.get("key"), p.get("models") or "-", p.get("default"))
         for p in providers],
        empty="No model provider: add one with `autonomy cluster model add NAME --url URL --api-key-env VAR "
              "--default`.",
    )


@model.command()
@click.argument("name")
@OUTPUT_OPTION
def remove(name: str, output: str) -> None:
    """Remove provider NAME from the cluster's model gateway."""
    printer = Printer(output)
    result = client().remove_model(name)
    printer.data(result)
    printer.line(f"Removed model provider {name}.")
