"""``autonomy zone deploy | list | url | delete | status | logs | repl``.

``deploy`` checks everything it can locally before it talks to the cluster: the zone spec, the
secrets it refers to, and that every container's image can run here (:func:`plan_zone`). A zone
that fails any check deploys nothing, and the cluster's controller is not even started.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from autonomy.cli.cluster import client
from autonomy.cli.output import OUTPUT_OPTION, Printer
from autonomy.errors import ClusterError, ZoneSpecError
from autonomy.zones import ContainerPlan, ZoneSpec, check_secrets, load_secrets, load_zone, plan_zone
from autonomy.zones.loading import display_path, find_zone_file, read_structured
from autonomy.zones.spec import ZONE_NAME_RE

__all__ = ["zone"]

DIR_OPTION = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The zone's directory (with autonomy.yaml, secrets.yaml and images/).",
)


@click.group()
def zone() -> None:
    """Deploy, inspect and delete zones (apps described by autonomy.yaml)."""


def check_zone(directory: Path, printer: Printer) -> tuple[ZoneSpec, dict[str, str], dict[str, ContainerPlan]]:
    """Load the zone and its secrets and plan its containers; print notes and warnings on stderr."""
    spec = load_zone(directory)
    secrets = load_secrets(directory)
    shown = display_path(find_zone_file(directory))
    problems: list[tuple[str, str]] = []
    plans: dict[str, ContainerPlan] = {}
    for check in (lambda: check_secrets(spec, secrets, shown), lambda: plans.update(plan_zone(directory, spec))):
        try:
            check()
        except ZoneSpecError as error:
            problems += error.problems
    if problems:
        raise ZoneSpecError(shown, problems)
    for note in spec.notes:
        printer.note(note)
    if not _builds_images():  # the process runtime's plan: what it cannot do as written
        for key, plan in plans.items():
            for warning in plan.warnings:
                printer.note(f"{key}: {warning}", "warning")
    return spec, secrets, plans


def _builds_images() -> bool:
    """True when the local cluster runs the Docker runtime: Dockerfiles are built as written there, so the
    process runtime's warnings (``RUN apt-get`` not run, another ``FROM``) do not apply."""
    from autonomy.cluster.client import default_home
    from autonomy.cluster.runtime_choice import controller_runtime

    return controller_runtime(default_home()) == "docker"


@zone.command()
@DIR_OPTION
@click.option("--dry-run", is_flag=True, help="Only check the zone and show how each container would run.")
@click.option("--no-build", is_flag=True,
              help="Kubernetes: deploy images already pushed under their content tags (built elsewhere, e.g. CI).")
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True,
              help="text for people, json for scripts; yaml with --dry-run: the Kubernetes manifests.")
def deploy(directory: Path, dry_run: bool, no_build: bool, output: str) -> None:
    """Deploy (or update) the zone described by autonomy.yaml; print its public URL."""
    if output == "yaml" and not dry_run:
        raise click.UsageError("-o yaml shows the manifests of --dry-run")
    printer = Printer(output)
    spec, secrets, plans = check_zone(directory, printer)
    if dry_run and output == "yaml":
        from autonomy.cluster.client import default_home
        from autonomy.cluster.direct import render

        click.echo(render(default_home(), spec, secrets, directory.resolve()), nl=False)
        return
    if dry_run:
        printer.data({"zone": spec.name, "plans": {k: p.model_dump(mode="json") for k, p in plans.items()}})
        printer.table(["container", "kind", "command", "requirements"], [
            (k, p.kind, " ".join(p.argv), p.requirements and display_path(p.requirements)) for k, p in plans.items()
        ])
        return
    result: dict[str, Any] | None = None
    with _Progress(printer) as progress:
        for event in client(**({"no_build": True} if no_build else {})).deploy(spec, secrets, directory.resolve()):
            if event.get("event") == "done":
                result = event.get("result") or {}
            else:
                progress.show(str(event.get("step", "")), str(event.get("detail", "")))
    result = result or {"zone": spec.name, "url": None, "pods": []}
    printer.data(result)
    printer.line(f"Zone {result.get('zone', spec.name)} is deployed.")
    url = result.get("url")
    printer.line(f"URL: {url}" if url else "Not public: no pod of this zone has 'public: true'.")
    for label, value in zone_urls(result, url):
        printer.line(f"{label}: {value}")


@zone.command(name="list")
@OUTPUT_OPTION
def list_(output: str) -> None:
    """List the zones of the cluster."""
    printer = Printer(output)
    zones = client().list_zones()
    printer.data(zones)
    printer.table(
        ["zone", "state", "url", "any client", "public", "pods", "network"],
        [(z.get("zone"), z.get("state"), z.get("url"), dict(zone_urls(z, z.get("url"))).get("any client"),
          z.get("public"), z.get("pods"), z.get("network")) for z in zones],
        empty="No zones: deploy one with `autonomy zone deploy`.",
    )


@zone.command()
@click.argument("name", required=False)
@DIR_OPTION
@OUTPUT_OPTION
def url(name: str | None, directory: Path, output: str) -> None:
    """Print zone NAME's URLs: public (*.localhost), for any HTTP client, and its console page."""
    printer = Printer(output)
    name = name or _zone_name(directory)
    shown = client().show()
    zone_info = next((z for z in shown.get("zones") or [] if z.get("zone") == name), None)
    if zone_info is None:
        raise ClusterError(f"no zone {name!r} in this cluster: `autonomy zone list` shows the zones")
    port = shown.get("public_port")
    urls = {"zone": name, "url": zone_info.get("url"),
            "path_url": f"http://127.0.0.1:{port}/z/{name}/" if zone_info.get("url") else None,
            "console_url": f"{shown.get('console_url', '').rstrip('/')}/zones/{name}",
            "console_path_url": f"http://127.0.0.1:{port}/zones/{name}"}
    printer.data(urls)
    printer.fields([("url", urls["url"] or "not public"), ("any client", urls["path_url"]),
                    ("console", urls["console_url"]), ("console (any client)", urls["console_path_url"])])


def zone_urls(result: dict[str, Any], url: str | None) -> list[tuple[str, str]]:
    """The other forms of a deployed zone's URLs, from its public URL (``http://{cluster}-{zone}.localhost:P/``)."""
    from urllib.parse import urlsplit

    if not url:
        return []
    parts = urlsplit(url)
    zone = result.get("zone")
    cluster = (parts.hostname or "").removesuffix(f"-{zone}.localhost")
    return [("any client", f"http://127.0.0.1:{parts.port}/z/{zone}/"),
            ("console", f"http://{cluster}.localhost:{parts.port}/zones/{zone}"),
            ("console (any client)", f"http://127.0.0.1:{parts.port}/zones/{zone}")]


@zone.command()
@click.argument("name", required=False)
@DIR_OPTION
@OUTPUT_OPTION
def delete(name: str | None, directory: Path, output: str) -> None:
    """Delete zone NAME (default: the zone of ./autonomy.yaml or --dir)."""
    printer = Printer(output)
    name = name or _zone_name(directory)
    result = client().delete_zone(name)
    printer.data(result)
    printer.line(f"Deleted zone {name}.")


@zone.command()
@click.argument("name", required=False)
@DIR_OPTION
@OUTPUT_OPTION
def status(name: str | None, directory: Path, output: str) -> None:
    """Show zone NAME's pods, clones and containers (default: the zone of ./autonomy.yaml)."""
    printer = Printer(output)
    info = client().zone_status(name or _zone_name(directory))
    printer.data(info)
    printer.fields([("zone", info.get("zone")), ("state", info.get("state")), ("url", info.get("url")),
                    *zone_urls(info, info.get("url")), ("runtime", info.get("runtime")),
                    ("network", info.get("network")),
                    ("isolation", info.get("isolation"))] + ([("why", info["error"])] if info.get("error") else []))
    rows = [
        (pod.get("pod"), pod.get("clone"), pod.get("node"), c.get("container"), c.get("image"),
         c.get("state"), c.get("restarts"), c.get("pid"))
        for pod in info.get("pods", []) for c in pod.get("containers", [])
    ]
    printer.line("")
    printer.table(["pod", "clone", "node", "container", "image", "state", "restarts", "pid"], rows)
    for pod in info.get("pods", []):  # Kubernetes: why a pod is not ready, and its latest events
        if pod.get("problem") or pod.get("events"):
            printer.note(f"{pod.get('pod')}-{pod.get('clone')}: {pod.get('problem') or 'not ready'}"
                         + "".join(f"; {event}" for event in pod.get("events") or []), "warning")
    models = (info.get("usage") or {}).get("models") or {}
    if models:
        printer.line("")
        providers = (info.get("usage") or {}).get("providers") or {}
        printer.table(["model", "served by", "requests", "failed", "prompt tokens", "completion tokens"],
                      [(m, providers.get(m), u.get("requests"), u.get("failed_requests"), u.get("prompt_tokens"),
                        u.get("completion_tokens")) for m, u in models.items()])


@zone.command()
@click.argument("name", required=False)
@DIR_OPTION
@click.option("--pod", help="Only this pod's containers.")
@click.option("--container", help="Only containers of this name.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option("--tail", type=click.IntRange(min=0), default=100, show_default=True,
              help="How many past lines of each log to print first.")
def logs(name: str | None, directory: Path, pod: str | None, container: str | None, follow: bool,
         tail: int) -> None:
    """Print the logs of zone NAME's containers (default: the zone of ./autonomy.yaml)."""
    lines = client().zone_logs(name or _zone_name(directory), pod=pod, container=container, follow=follow,
                               tail=tail)
    try:
        for line in lines:
            click.echo(line)
    except KeyboardInterrupt:
        pass  # --follow ends with Ctrl-C: that is the normal way out
    finally:
        with contextlib.suppress(Exception):
            lines.close()


@zone.command()
@click.argument("name", required=False)
@DIR_OPTION
@click.option("--pod", help="The pod whose REPL to attach to (default: the main pod).")
@click.option("--clone", type=click.IntRange(min=0), default=0, show_default=True, help="Which clone of the pod.")
@click.option("--raw", is_flag=True, help="Show the REPL's frames as they are (what `nc` shows).")
def repl(name: str | None, directory: Path, pod: str | None, clone: int, raw: bool) -> None:
    """Attach the terminal to the REPL of zone NAME's pod (an app's `Repl.start`), through the controller."""
    from autonomy.cli.repl import attach

    opened = client().open_repl(name or _zone_name(directory), pod=pod, clone=clone)
    with contextlib.suppress(KeyboardInterrupt):
        attach(opened["socket"], raw=raw)


def _zone_name(directory: Path) -> str:
    """The zone name in ``directory``'s autonomy.yaml, even if the rest of the file has problems."""
    try:
        return load_zone(directory).name
    except ZoneSpecError:
        path = find_zone_file(directory)
        data = read_structured(path, display_path(path))
        name = data.get("name", data.get("zone_name")) if isinstance(data, dict) else None
        if isinstance(name, str) and ZONE_NAME_RE.match(name):
            return name
        raise


class _Progress:
    """Deploy progress on stderr: a live spinner on a terminal, plain ``step: detail`` lines otherwise."""

    def __init__(self, printer: Printer) -> None:
        self.console = printer.err
        self.json = printer.json
        self.status: Any = None

    def __enter__(self) -> _Progress:
        if self.console.is_terminal and not self.json:
            self.status = self.console.status("deploying ...")
            self.status.start()
        return self

    def show(self, step: str, detail: str) -> None:
        if self.json:  # -o json: one JSON object per line on stderr, stdout keeps the one result document
            self.console.print(json.dumps({"step": step, "detail": detail}), markup=False, highlight=False)
        elif self.status is not None:
            self.status.update(escape(f"{step}: {detail}"))
            self.console.print(f"[green]✓[/green] [bold]{escape(step)}[/bold] {escape(detail)}", highlight=False)
        else:
            self.console.print(f"{step}: {detail}", markup=False, highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()
