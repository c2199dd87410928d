"""What the CLI prints: data as rich tables or JSON, progress, notes and errors.

Data goes to stdout; progress, notes, warnings and errors go to stderr, so ``-o json`` (or ``-o yaml``)
output on stdout is always one document a script can parse. Rich styling is used on a terminal only;
when stdout/stderr are not a TTY, lines are plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["OUTPUT_OPTION", "Printer", "stdout", "stderr"]

OUTPUT_OPTION = click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True,
    help="How to print the result: text for people, json or yaml for scripts.",
)


def stdout() -> Console:
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def stderr() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


class Printer:
    """Prints one command's result in the chosen ``output`` format."""

    def __init__(self, output: str = "text") -> None:
        self.json = output in ("json", "yaml")  # machine-readable: one document on stdout, nothing else
        self.yaml = output == "yaml"
        self.out = stdout()
        self.err = stderr()

    def data(self, value: Any) -> None:
        """JSON/YAML mode: the whole value as one document on stdout. Text mode: nothing (call table/fields)."""
        if self.yaml:
            import yaml

            click.echo(yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False,
                                      allow_unicode=True), nl=False)
        elif self.json:
            click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))

    def fields(self, pairs: Iterable[tuple[str, Any]]) -> None:
        if self.json:
            return
        pairs = list(pairs)
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            self.out.print(f"[bold]{escape(key.ljust(width))}[/bold]  {escape(_text(value))}")

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "") -> None:
        if self.json:
            return
        rows = list(rows)
        if not rows:
            if empty:
                self.err.print(empty)
            return
        if not self.out.is_terminal:
            # Plain, tab-separated lines: easy to grep and to read in a log.
            click.echo("\t".join(c.upper() for c in columns))
            for row in rows:
                click.echo("\t".join(_text(v) for v in row))
            return
        table = Table(box=None, header_style="bold")
        for column in columns:  # fold, never cut: a URL must stay whole to be copied
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(_text(v)) for v in row))
        self.out.print(table)

    def line(self, text: str) -> None:
        """A line of text output (stdout, text mode only)."""
        if not self.json:
            self.out.print(escape(text))

    def note(self, text: str, kind: str = "note") -> None:
        """A note or warning on stderr (both modes)."""
        style = "yellow" if kind == "warning" else "dim"
        self.err.print(f"[{style}]{kind}:[/{style}] {escape(text)}")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)
