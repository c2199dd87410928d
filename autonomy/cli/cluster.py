"""``autonomy cluster enroll | start | show | stop`` (and ``cluster model ...``, in :mod:`autonomy.cli.model`)."""

from __future__ import annotations

from typing import Any

import click

from autonomy.cli.output import OUTPUT_OPTION, Printer

__all__ = ["cluster", "client"]


def client() -> Any:
    """The cluster client for ``AUTONOMY_HOME`` (imported late: ``--help`` stays fast)."""
    from autonomy.cluster.client import ClusterClient, default_home

    return ClusterClient(default_home())


@click.group()
def cluster() -> None:
    """Create, inspect and stop your cluster."""


@cluster.command()
@click.option("--no-input", is_flag=True,
              help="Never prompt (accepted for compatibility: the local cluster needs no input).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="The public port for zones and the console (default: AUTONOMY_PUBLIC_PORT, else 32100 or the "
                   "next free one). Stored with the cluster.")
@OUTPUT_OPTION
def enroll(no_input: bool, port: int | None, output: str) -> None:
    """Create the local cluster if there is none, start its controller, and show it."""
    printer = Printer(output)
    info = client().enroll(port)
    for note in info.pop("notes", []):
        printer.note(note)
    printer.data(info)
    printer.line(f"Cluster {info.get('id')} is ready.")
    _show_fields(printer, info)


@cluster.command()
@OUTPUT_OPTION
def start(output: str) -> None:
    """Start the stopped cluster (its zones come back with it) and show it."""
    printer = Printer(output)
    info = client().start()
    printer.data(info)
    printer.line(f"Cluster {info.get('id')} is running.")
    _show_fields(printer, info)


@cluster.command()
@OUTPUT_OPTION
def show(output: str) -> None:
    """Show the cluster: its id, fabric, gateway and zones."""
    printer = Printer(output)
    info = client().show()
    printer.data(info)
    _show_fields(printer, info)


@cluster.command()
@OUTPUT_OPTION
def stop(output: str) -> None:
    """Stop the cluster's controller and every zone it runs (they come back on the next command)."""
    printer = Printer(output)
    result = client().stop()
    printer.data(result)
    printer.line("Stopped the cluster." if result.get("stopped") else "The cluster was not running.")


def _show_fields(printer: Printer, info: dict[str, Any]) -> None:
    zones = info.get("zones") or []
    names = [z.get("zone", z.get("name")) if isinstance(z, dict) else z for z in zones]
    printer.fields([
        ("id", info.get("id")),
        ("kind", info.get("kind")),
        ("fabric", info.get("fabric_url")),
        ("model gateway", info.get("gateway_url")),
        ("model providers", info.get("models") or "none"),
        ("console", info.get("console_url")),
        ("console (any client)", info.get("console_path_url")),
        ("public URLs", info.get("public_url_template")),
        ("or (any client)", f"http://127.0.0.1:{info.get('public_port')}/z/ZONE/" if info.get("public_port") else None),
        ("zones", names or "none"),
    ])
    usage = info.get("usage") or {}
    if usage:
        printer.line("")
        printer.table(["zone", "model requests", "failed", "prompt tokens", "completion tokens"],
                      [(zone, u.get("requests"), u.get("failed_requests"), u.get("prompt_tokens"),
                        u.get("completion_tokens")) for zone, u in usage.items()])
