"""What the CLI prints: tables on a narrow terminal keep every value whole, -o yaml is one document."""

from __future__ import annotations

import io

import yaml
from rich.console import Console

from autonomy.cli.output import Printer

URL = "http://0123456789abcdef0123456789abcdef-fanout.localhost:32100/"


def test_a_narrow_terminal_folds_long_urls_instead_of_cutting_them() -> None:
    printer = Printer("text")
    buffer = io.StringIO()
    printer.out = Console(file=buffer, width=50, force_terminal=True, color_system=None, soft_wrap=True)
    printer.table(["zone", "state", "url"], [("fanout", "running", URL)])
    text = buffer.getvalue()
    assert "…" not in text
    assert len(text.splitlines()) > 2  # the row took several lines...
    assert URL in "".join(text.split())  # ...and holds the whole URL, folded


def test_yaml_output_is_one_document(capsys) -> None:
    Printer("yaml").data({"zone": "fanout", "url": URL, "pods": ["main-pod"]})
    assert yaml.safe_load(capsys.readouterr().out) == {"zone": "fanout", "url": URL, "pods": ["main-pod"]}
