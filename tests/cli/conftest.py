"""Running the installed ``autonomy`` console script as a user does, with a temporary AUTONOMY_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

AUTONOMY = str(Path(sys.executable).parent / "autonomy")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    home: Path
    cwd: Path

    env: dict[str, str] | None = None  # extra variables for every command (and a controller it starts)

    def __call__(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
        base = {k: v for k, v in os.environ.items() if k not in ("CLUSTER", "ZONE", "NODE")}
        env = {**base, **(self.env or {}), **(env or {})}
        env.update(AUTONOMY_HOME=str(self.home), AUTONOMY_PUBLIC_PORT="0", COLUMNS="200")
        done = subprocess.run([AUTONOMY, *args], cwd=self.cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    app = tmp_path / "app"
    app.mkdir()
    return Cli(home=tmp_path / "home", cwd=app)


# A deployed app's agent "calc" with one tool; a test appends its own ``Agent.start`` lines to ``main``.
CALC_APP_HEAD = """\
from autonomy import Agent, Model, Node, Tool


def add(a: int, b: int) -> int:
    \"\"\"Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    \"\"\"
    return a + b


async def main(node):
    await Agent.start(node=node, name="calc", instructions="You add numbers with the add tool.",
                      model=Model("claude-sonnet-4-v1"), tools=[Tool(add)])
"""


def write_app(directory: Path, zone_yaml: str, main_py: str = "", secrets: str | None = None) -> None:
    """A zone directory: autonomy.yaml, an upstream-style images/main/, and optionally secrets.yaml."""
    (directory / "autonomy.yaml").write_text(zone_yaml)
    if secrets is not None:
        (directory / "secrets.yaml").write_text(secrets)
    image = directory / "images" / "main"
    image.mkdir(parents=True, exist_ok=True)
    (image / "Dockerfile").write_text(
        'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n')
    (image / "main.py").write_text(main_py or "from autonomy import Node\n\nasync def main(node):\n    pass\n\n"
                                   "Node.start(main)\n")
