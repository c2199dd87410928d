"""The ``autonomy`` command: ``autonomy cluster ...`` and ``autonomy zone ...``.

The CLI is thin: it reads and checks the zone's files locally (:mod:`autonomy.zones`) and talks to
the cluster only through :class:`autonomy.cluster.client.ClusterClient` (``AUTONOMY_HOME``, default
``~/.autonomy``).

Exit codes: 0 success; 1 a refusal or an error (the message, never a traceback, on stderr);
2 a usage error (unknown command or option, missing argument); 130 interrupted.
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

__all__ = ["cli", "main"]


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
        code = 1
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
