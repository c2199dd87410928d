"""``autonomy image build-base``: our base image, standing in for ``ghcr.io/build-trust/autonomy-python``.

Progress (one line per step, with the seconds since the start) goes to stderr; the result to stdout
as fields, or as one JSON document with ``-o json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from autonomy.cli.output import OUTPUT_OPTION, Printer

__all__ = ["image"]

# build-output lines that say nothing a person needs (the build's steps and results are shown)
_NOISE = (" ---> ", "Removing intermediate container", "Processing /tmp/wheels/")


@click.group()
def image() -> None:
    """Build the container images zones run in (Docker Engine needed)."""


@image.command("build-base")
@click.option("--rebuild", is_flag=True,
              help="Make it again from scratch (a fresh Debian root too), even if nothing changed.")
@click.option("--source", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="This project's checkout to build autonomy from (default: the one this command runs from).")
@OUTPUT_OPTION
def build_base(rebuild: bool, source: Path | None, output: str) -> None:
    """Build the base image offline and tag it ghcr.io/build-trust/autonomy-python[-dev]:latest.

    \b
    The first build on a machine takes two to four minutes (debootstrap of Debian from its mirror);
    afterwards it is reused, and made again only when autonomy's source changed (about 30 s).
    """
    from autonomy.images import BASE_TAGS, build_base_image  # late: `autonomy --help` stays fast

    printer = Printer(output)
    started = time.monotonic()

    def progress(line: str) -> None:
        if any(noise in line for noise in _NOISE):
            return
        printer.err.print(f"[{time.monotonic() - started:6.1f}s] {line}", markup=False, highlight=False)

    base = build_base_image(rebuild=rebuild, source=source, progress=progress)
    total = round(time.monotonic() - started, 2)
    printer.data({"image": BASE_TAGS[0], "tags": list(base.tags), "id": base.id, "key": base.key,
                  "built": base.built, "size_bytes": base.size, "seconds": {**base.seconds, "total": total}})
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in base.seconds.items())
    printer.fields([
        ("image", ", ".join(base.tags)),
        ("id", base.id),
        ("key", base.key),
        ("size", f"{base.size / 1e6:.0f} MB"),
        ("built", f"yes ({steps})" if base.built else "no: up to date"),
        ("elapsed", f"{total:.1f} s"),
    ])
