"""Run the benchmarks and write their sections into docs/benchmarks.md.

    .venv/bin/python -m benchmarks.run            # every benchmarks/bench_*.py
    .venv/bin/python -m benchmarks.run nodes      # only benchmarks/bench_nodes.py

Each ``benchmarks/bench_NAME.py`` is runnable on its own (``python -m benchmarks.bench_NAME``) and
prints one Markdown section to stdout (a ``## Title`` line, how it was measured, a table of figures
with their baselines and ratios). This script runs each in its own process (the machines are shared
and noisy: every figure is a ratio against a baseline measured in the same run) and replaces that
module's section in docs/benchmarks.md between ``<!-- bench:NAME -->`` markers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Rerun all with `.venv/bin/python -m benchmarks.run` (or one: `.venv/bin/python -m benchmarks.run nodes`).
Each figure is a ratio against a baseline measured in the same run on the same machine (2 cores,
shared), so compare ratios, not times. Sections below are rewritten by each run.
"""


def _section(name: str) -> str:
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return f"## {name}\n\nFAILED (exit {proc.returncode}):\n\n```\n{proc.stderr[-2000:]}\n```\n"
    return proc.stdout.strip() + "\n"


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem[len("bench_"):] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    text = DOC.read_text() if DOC.exists() else HEADER
    failed = False
    for name in names:
        print(f"running benchmarks/bench_{name}.py ...", flush=True)
        body = _section(name)
        failed |= body.startswith(f"## {name}\n\nFAILED")
        print(body)
        block = f"<!-- bench:{name} -->\n{body}<!-- /bench:{name} -->"
        pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _, block=block: block, text)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
