"""``autonomy cluster enroll | start | show | stop`` (and ``cluster model ...``, in :mod:`autonomy.cli.model`)."""

from __future__ import annotations

from typing import Any

import click

from autonomy.cli.output import OUTPUT_OPTION, Printer

__all__ = ["cluster", "client"]


def client(**options: Any) -> Any:
    """The cluster client for ``AUTONOMY_HOME`` (imported late: ``--help`` stays fast): the local
    controller's, or for a cluster without a controller (Kubernetes) its backend in-process.
    ``options`` go to such a backend (``no_build``)."""
    from autonomy.cluster.client import ClusterClient, default_home
    from autonomy.cluster.direct import DirectClient, open_direct

    home = default_home()
    direct = open_direct(home, **options)
    if direct is not None:
        return DirectClient(direct)
    if options.get("no_build"):
        raise click.UsageError("--no-build is for Kubernetes clusters (the local cluster runs images as processes)")
    return ClusterClient(home)


@click.group()
def cluster() -> None:
    """Create, inspect and stop your cluster."""


@cluster.command()
@click.option("--no-input", is_flag=True,
              help="Never prompt (accepted for compatibility: the local cluster needs no input).")
@click.option("--kubernetes", is_flag=True, help="Enroll a Kubernetes cluster (see docs/kubernetes.md).")
@click.option("--context", help="Kubernetes: the kubeconfig context (default: the current one).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubernetes: the kubeconfig file.")
@click.option("--registry", help="Kubernetes: where zone images are pushed (host[:port][/path]).")
@click.option("--pull-registry", help="Kubernetes: the registry's name as the cluster's nodes see it.")
@click.option("--domain", help="Kubernetes: public zones are served at {cluster}-{zone}.DOMAIN.")
@click.option("--ingress-class", help="Kubernetes: the IngressClass of public zones' Ingresses.")
@click.option("--tls-secret", help="Kubernetes: [NAMESPACE/]NAME of a wildcard TLS Secret for *.DOMAIN.")
@click.option("--cluster-issuer", help="Kubernetes: a cert-manager ClusterIssuer for public zones' certificates.")
@click.option("--insecure-http", is_flag=True, help="Kubernetes: serve public zones over plain HTTP.")
@click.option("--runtime-image", help="Kubernetes: the image NATS and the model gateway run (our base image).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Local cluster: the public port for zones and the console (default: AUTONOMY_PUBLIC_PORT, else "
                   "32100 or the next free one). Stored with the cluster.")
@click.option("--runtime", type=click.Choice(["process", "docker"]), default=None,
              help="Local cluster: what runs the zones: `process` (sandboxed processes, no setup; the default) or "
                   "`docker` (containers of the Docker Engine, built from their Dockerfiles). Stored with the "
                   "cluster (AUTONOMY_RUNTIME overrides it for a controller start).")
@OUTPUT_OPTION
def enroll(no_input: bool, kubernetes: bool, port: int | None, runtime: str | None, output: str,
           **options: Any) -> None:
    """Create the local cluster if there is none, start its controller, and show it.

    With --kubernetes: check and enroll the Kubernetes cluster of a kubeconfig context (a second
    workstation enrolling the same cluster adopts it)."""
    printer = Printer(output)
    given = sorted(f"--{k.replace('_', '-')}" for k, v in options.items() if v)
    if not kubernetes and given:
        raise click.UsageError(f"{', '.join(given)} only apply with --kubernetes")
    if kubernetes and runtime is not None:
        raise click.UsageError("--runtime applies to the local cluster, not with --kubernetes (the cluster's "
                               "nodes run the zones' containers)")
    if kubernetes and port is not None:
        raise click.UsageError("--port applies to the local cluster, not with --kubernetes (zones are served by "
                               "the cluster's Ingress)")
    if kubernetes:
        from autonomy.cluster.client import default_home
        from autonomy.cluster.direct import enroll as enroll_direct

        if not options.get("registry"):
            raise click.UsageError("--kubernetes needs --registry: where zone images are pushed")
        info = enroll_direct("kubernetes", default_home(), progress_printer(printer), **options)
    else:
        from autonomy.cli.runtime_check import check_runtime

        check_runtime(runtime)
        info = client().enroll(port, runtime)
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


def progress_printer(printer: Printer) -> Any:
    """``progress(step, detail)`` on stderr: a JSON object per line with ``-o json``, else ``step: detail``."""
    import json

    def progress(step: str, detail: str) -> None:
        if printer.json:
            printer.err.print(json.dumps({"step": step, "detail": detail}), markup=False, highlight=False)
        else:
            printer.err.print(f"{step}: {detail}", markup=False, highlight=False)
    return progress


def _show_fields(printer: Printer, info: dict[str, Any]) -> None:
    if info.get("kind") == "kubernetes":
        printer.fields([(k.replace("_", " "), info.get(k)) for k in (
            "id", "kind", "context", "server", "registry", "domain", "system_namespace", "nats", "model_gateway",
            "public_url_template")] + [("zones", info.get("zones") or "none")])
        return
    zones = info.get("zones") or []
    names = [z.get("zone", z.get("name")) if isinstance(z, dict) else z for z in zones]
    printer.fields([
        ("id", info.get("id")),
        ("kind", info.get("kind")),
        ("runtime", info.get("runtime")),
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
