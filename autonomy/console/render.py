"""HTML building blocks of the console: escaping, tables, the page layout.

Server-rendered HTML in plain Python: every value from the cluster goes through :func:`e` (html.escape),
so a zone, agent or log line can never inject markup. Pages load ``/static/htmx.min.js`` (vendored) and
``/static/console.js`` (the chat box and the log stream), ``/static/console.css``; no build step, no external resource.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["e", "table", "page", "state_badge", "Html"]


class Html(str):
    """Markup that is already safe (built by this module): :func:`e` leaves it as it is."""


def e(value: Any) -> str:
    """``value`` as escaped text (``-`` for None)."""
    if isinstance(value, Html):
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return html.escape(str(value), quote=True)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], empty: str, table_id: str = "") -> Html:
    rows = list(rows)
    if not rows:
        return Html(f'<p class="empty">{e(empty)}</p>')
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in rows)
    ident = f' id="{e(table_id)}"' if table_id else ""
    return Html(f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def state_badge(state: Any) -> Html:
    kind = {"running": "ok", "ready": "ok", "restarting": "warn", "starting": "warn", "crashed": "bad",
            "failed": "bad", "stopped": "off"}.get(str(state), "off")
    return Html(f'<span class="badge {kind}">{e(state)}</span>')


def link(href: str, text: Any) -> Html:
    return Html(f'<a href="{e(href)}">{e(text)}</a>')


def live(url: str, every: str = "2s", trigger_extra: str = "") -> Html:
    """A block that htmx fills from ``url`` at load and then every ``every`` (and on ``trigger_extra``)."""
    trigger = f"load, every {every}" + (f", {trigger_extra}" if trigger_extra else "")
    return Html(f'<div hx-get="{e(url)}" hx-trigger="{e(trigger)}" hx-swap="innerHTML">'
                '<p class="empty">loading ...</p></div>')




def page(title: str, body: str, crumbs: Sequence[tuple[str, str]] = ()) -> str:
    nav = " / ".join(f'<a href="{e(href)}">{e(text)}</a>' for href, text in crumbs)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{e(title)} · autonomy</title>"
            "<link rel=\"stylesheet\" href=\"/static/console.css\"><script src=\"/static/htmx.min.js\"></script>"
            "<script src=\"/static/console.js\" defer></script></head><body>"
            f"<header><h1>{e(title)}</h1><nav>{nav}</nav></header><main>{body}</main></body></html>")
