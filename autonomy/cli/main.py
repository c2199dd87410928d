"""The ``autonomy`` command: ``autonomy cluster ...`` and ``autonomy zone ...``.

The CLI is thin: it reads and checks the zone's files locally (:mod:`autonomy.zones`) and talks to
the cluster only through :class:`autonomy.cluster.client.ClusterClient` (``AUTONOMY_HOME``, default
``~/.autonomy``).

Exit codes (the message, never a traceback, on stderr): 0 success; 2 a usage error (unknown command or
option, missing argument); 130 interrupted; for an error of the tree, :func:`exit_code` of its
``http_status`` (docs/cli.md): 3 invalid zone files, 4 not found, 5 unavailable (retry later), 1 any
other refusal or failure.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import click

from autonomy.cli.cluster import cluster
from autonomy.cli.image import image
from autonomy.cli.model import model
from autonomy.cli.output import stderr
from autonomy.cli.zone import zone
from autonomy.errors import AutonomyError, ZoneSpecError

__all__ = ["cli", "exit_code", "main"]

# http_status of an error (autonomy.errors) -> the CLI's exit code; any other status exits 1 ("refused or failed").
EXIT_CODES = {422: 3,  # invalid input: autonomy.yaml or secrets.yaml refused (every problem is listed)
              404: 4,  # not found: no such zone
              429: 5, 502: 5, 503: 5, 504: 5}  # unavailable: the cluster or a node is busy or down, retry later


def exit_code(exc: AutonomyError) -> int:
    """The exit code for ``exc``: derived from its ``http_status``, so the CLI and the controller's API agree."""
    return EXIT_CODES.get(exc.http_status, 1)


def _version() -> str:
    try:
        return version("autonomy-runtime")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="autonomy", message="%(prog)s %(version)s")
def cli() -> None:
    """Deploy and run Autonomy zones on your cluster.

    \b
    autonomy cluster enroll    create the local cluster (in $AUTONOMY_HOME, default ~/.autonomy)
    autonomy zone deploy       deploy the zone described by ./autonomy.yaml
    autonomy image build-base  build the base image of apps (ghcr.io/build-trust/autonomy-python)
    """


cluster.add_command(model)
cli.add_command(cluster)
cli.add_command(zone)
cli.add_command(image)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code; user errors print a message, not a traceback."""
    try:
        code = cli.main(args=argv, prog_name="autonomy", standalone_mode=False)
    except click.exceptions.Abort:
        stderr().print("Aborted.")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except AutonomyError as exc:
        _print_error(exc)
        code = exit_code(exc)
    except KeyboardInterrupt:
        stderr().print("Interrupted.")
        code = 130
    except BrokenPipeError:  # `autonomy zone logs | head`
        code = 0
    sys.exit(code if isinstance(code, int) else 0)


def _print_error(exc: AutonomyError) -> None:
    """``error: <first line>`` per problem; continuation lines indented under it."""
    console = stderr()
    messages = [str(exc) or type(exc).__name__]
    if isinstance(exc, ZoneSpecError):
        messages = [f"{exc.file}: {path}: {message}" if path else f"{exc.file}: {message}"
                    for path, message in exc.problems]
    for message in messages:
        first, *rest = message.splitlines() or [""]
        console.print(f"error: {first}", markup=False, highlight=False)
        for line in rest:
            console.print(f"    {line}", markup=False, highlight=False)


if __name__ == "__main__":  # pragma: no cover
    main()
