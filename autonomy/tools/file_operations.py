"""File operations on a virtual root, with upstream's argument names (spec §1.5).

Each method takes virtual paths (see ``virtual_root.py``) and returns text for a model. Problems
the model can fix (a missing file, a path leaving the root, an ambiguous edit) raise ``ValueError``
or ``OSError`` with a message saying what to do; as tools they come back as
``Tool execution failed: ...`` text (``Tool.invoke`` never raises).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path

from autonomy.tools.virtual_root import VirtualRoot

__all__ = ["FileOperations", "MAX_READ_CHARACTERS"]

MAX_READ_CHARACTERS = 200_000  # a larger file is read in line ranges


class FileOperations:
    """The operations; ``FilesystemTools`` and ``Workspace`` offer them as tools."""

    def __init__(self, root: VirtualRoot) -> None:
        self.files = root

    def _existing(self, path: str, kind: str = "file") -> Path:
        host = self.files.resolve(path)
        if kind == "file" and not host.is_file():
            raise FileNotFoundError(f"{path!r} is not a file: list_directory shows what exists")
        if kind == "directory" and not host.is_dir():
            raise FileNotFoundError(f"{path!r} is not a directory: list_directory shows what exists")
        return host

    def list_directory(self, path: str = ".") -> str:
        """List the files and directories in a directory (directories end with '/')."""
        host = self._existing(path, "directory")
        lines = []
        for entry in sorted(host.iterdir(), key=lambda p: p.name):
            if entry.is_dir():
                lines.append(f"{entry.name}/")
            else:
                lines.append(f"{entry.name} ({entry.stat().st_size} bytes)")
        return "\n".join(lines) if lines else f"{self.files.virtual(host)} is empty"

    def read_file(self, path: str, start_line: int | None = None, end_line: int | None = None) -> str:
        """Read a text file, or only lines start_line..end_line (1-based, inclusive)."""
        host = self._existing(path)
        with host.open(encoding="utf-8", errors="replace") as f:
            if start_line is None and end_line is None:
                text = f.read(MAX_READ_CHARACTERS + 1)
                if len(text) > MAX_READ_CHARACTERS:
                    return (text[:MAX_READ_CHARACTERS] + f"\n[... truncated at {MAX_READ_CHARACTERS} characters: "
                            "read the rest with start_line and end_line]")
                return text
            lines = f.read().splitlines(keepends=True)
        start = max(1, start_line or 1)
        end = len(lines) if end_line is None else min(end_line, len(lines))
        if start > end:
            return f"{path} has {len(lines)} lines: nothing between lines {start} and {end}"
        return "".join(lines[start - 1:end])

    def write_file(self, path: str, content: str) -> str:
        """Write content to a file (created with its directories, or replaced)."""
        host = self.files.resolve(path)
        if host.is_dir():
            raise IsADirectoryError(f"{path!r} is a directory: choose a file name")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(content, encoding="utf-8")
        return f"Wrote {len(content)} characters to {self.files.virtual(host)}"

    def edit_file(self, path: str, old_string: str, new_string: str, replace_all: bool = False) -> str:
        """Replace old_string by new_string in a file; old_string must occur once unless replace_all."""
        host = self._existing(path)
        text = host.read_text(encoding="utf-8")
        count = text.count(old_string) if old_string else 0
        if count == 0:
            raise ValueError(f"old_string was not found in {path}: read the file and copy the exact text")
        if count > 1 and not replace_all:
            raise ValueError(f"old_string occurs {count} times in {path}: give more surrounding text to make it "
                             "unique, or set replace_all to true")
        host.write_text(text.replace(old_string, new_string, -1 if replace_all else 1), encoding="utf-8")
        return f"Replaced {count if replace_all else 1} occurrence(s) in {self.files.virtual(host)}"

    def _walk(self, host: Path) -> list[Path]:
        root = os.path.realpath(self.files.root)
        found = []
        for directory, dirs, files in os.walk(host):  # os.walk does not follow links to directories
            dirs.sort()
            for name in sorted(files):
                candidate = Path(directory) / name
                real = os.path.realpath(candidate)
                if real.startswith(root + os.sep):  # a link out of the root is not followed
                    found.append(candidate)
        return found

    def find_files(self, pattern: str) -> str:
        """Find files whose path (or name) matches a glob pattern such as '*.md' or 'notes/**/*.txt'."""
        root = self.files.ensure()
        pattern = pattern.lstrip("/")
        matches = []
        for host in self._walk(root):
            relative = host.relative_to(root).as_posix()
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(host.name, pattern) \
                    or (pattern.startswith("**/") and fnmatch.fnmatch(relative, pattern[3:])):
                matches.append("/" + relative)
        return "\n".join(matches) if matches else f"No files match {pattern!r}"

    def search_in_files(self, pattern: str, path: str = ".", case_sensitive: bool = True,
                        context_lines: int | None = None, show_line_numbers: bool = True,
                        max_results: int = 100) -> str:
        """Search the files under path for lines matching a regular expression."""
        try:
            regex = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a regular expression ({exc}): escape special "
                             "characters with '\\'") from None
        host = self.files.resolve(path)
        files = [host] if host.is_file() else self._walk(self._existing(path, "directory"))
        around = max(0, context_lines or 0)
        out: list[str] = []
        hits = 0
        for file in files:
            try:
                lines = file.read_text(encoding="utf-8", errors="strict").splitlines()
            except (UnicodeDecodeError, OSError):
                continue  # binary or unreadable files are skipped
            name = self.files.virtual(file)
            for number, line in enumerate(lines, 1):
                if not regex.search(line):
                    continue
                hits += 1
                if hits > max_results:
                    out.append(f"[... more than {max_results} matches: narrow the pattern or the path]")
                    return "\n".join(out)
                for n in range(max(1, number - around), min(len(lines), number + around) + 1):
                    separator = ":" if n == number else "-"
                    prefix = f"{name}{separator}{n}{separator} " if show_line_numbers else f"{name}{separator} "
                    out.append(prefix + lines[n - 1])
                if around:
                    out.append("--")
        return "\n".join(out) if out else f"No matches for {pattern!r}"

    def remove_file(self, path: str) -> str:
        """Remove a file."""
        host = self._existing(path)
        host.unlink()
        return f"Removed {self.files.virtual(host)}"

    def remove_directory(self, path: str, recursive: bool = False) -> str:
        """Remove a directory (it must be empty unless recursive is true)."""
        host = self._existing(path, "directory")
        if host == self.files.root:
            raise ValueError("the root directory cannot be removed: remove what is inside it")
        if recursive:
            shutil.rmtree(host)
        else:
            try:
                host.rmdir()
            except OSError:
                raise OSError(f"{path!r} is not empty: remove its files first, or set recursive to true") from None
        return f"Removed directory {self.files.virtual(host)}"

    def copy_file(self, source: str, destination: str) -> str:
        """Copy a file (not offered to models, as upstream)."""
        src, dst = self._existing(source), self.files.resolve(destination)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return f"Copied {self.files.virtual(src)} to {self.files.virtual(dst)}"

    def move_file(self, source: str, destination: str) -> str:
        """Move a file (not offered to models, as upstream)."""
        src, dst = self._existing(source), self.files.resolve(destination)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.replace(dst)
        return f"Moved {self.files.virtual(src)} to {self.files.virtual(dst)}"
