"""The sandbox every container of the process runtime runs in: bubblewrap, then setpriv to the zone's uid.

A container's command becomes (see docs/security.md for the trust model and the tests that prove it)::

    bwrap --unshare-ipc --unshare-uts --unshare-pid --unshare-cgroup-try --die-with-parent
          --ro-bind /usr /usr ... (the system, read-only)
          --ro-bind <python prefix> ... (the interpreter, autonomy's environment, the zone's venvs: read-only)
          --bind <per-instance copy of the image> <the image's path>   (the app directory: writable)
          --tmpfs /tmp --tmpfs /dev/shm --proc /proc --dev /dev       (private)
          --ro-bind-data <fd> /run/autonomy/node.json                  (this container's fabric credentials)
       -- setpriv --reuid U --regid U --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs
       -- <the command>

Decisions (measured in the runtime notes, §3):

- bwrap runs **as root** and drops to the zone's uid with ``setpriv`` afterwards: the Python prefix lives
  under ``/root`` (0700) here, which an unprivileged bwrap cannot bind.
- Every path is mounted **where it is on the host**, so the plan's argv, cwd and venv paths stay valid;
  each parent directory bwrap must create is made 0755 first (bwrap otherwise copies the host's mode,
  and ``/root`` 0700 would hide the interpreter from the zone's uid).
- Of the cluster's home a container sees only its own app directory copy, its image's venv and the one
  credentials file (through a pipe, never a path into the home). Secrets stay in the exec environment.
- The uid is per zone and per cluster (:func:`zone_uid`), a number no host account uses; the zone's
  files it must write (the per-instance app copy) are chowned to it, everything else it reads is
  world-readable and read-only.

Where bwrap, setpriv or root is missing, :func:`sandbox_available` says why and containers run
unsandboxed (``zone status`` shows ``isolation: none (<why>)``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import site
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from autonomy.cluster.zone_uid import zone_uid  # shared with the Docker runtime

__all__ = ["Sandbox", "SandboxPlan", "zone_uid", "sandbox_available", "CREDENTIALS_PATH", "DATA_FD", "SECCOMP_FD"]

CREDENTIALS_PATH = "/run/autonomy/node.json"
#: Placeholders in a rendered argv for the descriptors the supervisor passes data through: the
#: credentials file, the syscall filter (:mod:`.seccomp`).
DATA_FD = "@AUTONOMY_DATA_FD@"
SECCOMP_FD = "@AUTONOMY_SECCOMP_FD@"
_ETC = ("resolv.conf", "hosts", "nsswitch.conf", "host.conf", "ssl", "ca-certificates", "localtime",
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "mime.types", "gai.conf", "protocols",
        "services")
#: The trees of ``_ETC``: bound live from the host over the zone's /etc (see :func:`write_identity_files`).
_ETC_TREES = ("ssl", "ca-certificates", "ld.so.conf.d", "alternatives")


def sandbox_available() -> tuple[bool, str]:
    """Whether containers can be sandboxed here, and if not, why (one line for ``zone status``)."""
    if os.environ.get("AUTONOMY_ISOLATION", "").strip().lower() == "none":
        return False, "AUTONOMY_ISOLATION=none"
    if sys.platform != "linux":
        return False, "the sandbox needs Linux namespaces"
    if os.geteuid() != 0:
        return False, "the sandbox needs a controller running as root"
    for tool, package in ((_bwrap(), "bubblewrap"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            return False, f"`{tool}` is not installed (apt-get install {package})"
    return True, ""


def _bwrap() -> str:
    """The bubblewrap binary: ``AUTONOMY_BWRAP`` (a path or name), default ``bwrap`` on PATH."""
    return os.environ.get("AUTONOMY_BWRAP", "").strip() or "bwrap"


def _python_roots() -> list[Path]:
    """Read-only trees the interpreter and autonomy's environment need, as real paths."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    for sp in site.getsitepackages():
        roots.add(Path(sp).resolve())
    # Editable installs (this checkout) are found through .pth files naming a directory: bind the package
    # directories they point at, not the whole checkout.
    roots.add(Path(__file__).resolve().parents[2])  # the autonomy package itself
    return sorted(_minimal(roots))


def _minimal(paths: set[Path]) -> set[Path]:
    """Drop every path that is inside another one of ``paths``."""
    return {p for p in paths if not any(q != p and q in p.parents for q in paths)}


@dataclass
class SandboxPlan:
    """What one container needs inside: ``app_dir`` writable (the instance copy mounted at ``app_path``),
    ``read_only`` trees (a venv), and the uid."""

    uid: int
    app_path: Path | None = None
    app_copy: Path | None = None
    chdir: Path | None = None
    read_only: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)  # mounted at the same path, e.g. the instance's data dir
    passwd: Path | None = None
    #: The zone's /etc, mounted whole (one mount instead of one per file); by default the ``etc`` directory
    #: :func:`write_identity_files` made beside ``passwd``.
    etc: Path | None = None

    def __post_init__(self) -> None:
        if self.etc is None and self.passwd is not None and (self.passwd.parent / "etc").is_dir():
            self.etc = self.passwd.parent / "etc"


class Sandbox:
    """Renders the argv chain of :mod:`this module <autonomy.cluster.local.sandbox>`."""

    def __init__(self, bwrap: str | None = None, setpriv: str = "setpriv") -> None:
        bwrap = bwrap or _bwrap()
        self.bwrap = shutil.which(bwrap) or bwrap
        self.setpriv = shutil.which(setpriv) or setpriv
        self._python = _python_roots()

    def wrap(self, argv: list[str], plan: SandboxPlan, *, with_credentials: bool, seccomp: bool = False) -> list[str]:
        """``argv`` run in the sandbox ``plan``; with ``with_credentials`` the argv holds :data:`DATA_FD`,
        which the supervisor replaces by the read end of a pipe holding the credentials file; with
        ``seccomp``, :data:`SECCOMP_FD` for the syscall filter."""
        out = [self.bwrap, "--unshare-ipc", "--unshare-uts", "--unshare-pid", "--unshare-cgroup-try",
               "--die-with-parent", "--hostname", "pod", *(["--seccomp", SECCOMP_FD] if seccomp else []),
               "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
               "--ro-bind", "/usr", "/usr"]
        for link in ("bin", "lib", "lib64", "sbin", "lib32"):
            target = Path("/") / link
            if target.is_symlink():
                out += ["--symlink", os.readlink(target), str(target)]
            elif target.is_dir():
                out += ["--ro-bind", str(target), str(target)]
        out += ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm",
                "--tmpfs", "/run", "--perms", "0755", "--dir", "/run/autonomy"]
        if plan.etc is not None:
            # Every bwrap mount costs ~0.3 ms (it re-reads the mount table for each): the files come as one
            # directory of copies, the trees are bound live over their (empty) mount points in it.
            out += ["--ro-bind", str(plan.etc), "/etc"]
            for name in _ETC_TREES:
                if (plan.etc / name).is_dir() and (Path("/etc") / name).is_dir():
                    out += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        else:
            out += ["--perms", "0755", "--dir", "/etc"]
            for name in _ETC:
                path = Path("/etc") / name
                if path.exists():
                    out += ["--ro-bind", str(path), str(path)]
        if plan.passwd is not None and plan.etc is None:
            out += ["--ro-bind", str(plan.passwd), "/etc/passwd", "--ro-bind", str(plan.passwd.with_name("group")),
                    "/etc/group"]
        mounts: list[tuple[str, Path, Path]] = [("--ro-bind", p, p) for p in self._python]
        mounts += [("--ro-bind", p, p) for p in plan.read_only]
        mounts += [("--bind", p, p) for p in plan.writable]
        if plan.app_path is not None and plan.app_copy is not None:
            mounts.append(("--bind", plan.app_copy, plan.app_path))
        mounts.sort(key=lambda m: len(m[2].parts))  # a mount inside another one comes after it
        made: set[Path] = {Path("/"), Path("/usr"), Path("/etc"), Path("/tmp"), Path("/run")}
        for flag, source, target in mounts:
            for parent in reversed(target.parents):
                if parent not in made and not any(parent == m[2] or m[2] in parent.parents for m in mounts):
                    out += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            out += [flag, str(source), str(target)]
        if with_credentials:
            out += ["--perms", "0444", "--ro-bind-data", DATA_FD, CREDENTIALS_PATH]
        out += ["--chdir", str(plan.chdir or plan.app_path or "/tmp")]
        out += ["--", self.setpriv, f"--reuid={plan.uid}", f"--regid={plan.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]
        return out


def prepare_app_copy(image_dir: Path, copy: Path, uid: int) -> Path:
    """A fresh writable copy of ``image_dir`` at ``copy`` owned by ``uid`` (the instance's app directory)."""
    if copy.exists():
        shutil.rmtree(copy)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(image_dir, copy, symlinks=True)
    for root, dirs, files in os.walk(copy):
        os.chown(root, uid, uid, follow_symlinks=False)
        for name in files + dirs:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
    return copy


def write_identity_files(directory: Path, zone: str, uid: int) -> Path:
    """``passwd`` and ``group`` naming root and the zone's user (so ``getpwuid`` works inside); returns passwd.

    Also makes ``directory/etc``, the zone's /etc (:attr:`SandboxPlan.etc`): copies of the host's files
    of ``_ETC`` (refreshed here when the host's changed: each container start calls this, like Docker
    writing a container's resolv.conf and hosts), ``passwd`` and ``group``, and an empty mount point for
    each tree of ``_ETC_TREES`` (bound live). Files are replaced atomically, so the concurrent starts of
    a zone's clones never see a partly written one."""
    directory.mkdir(parents=True, exist_ok=True)
    user = f"zone-{zone}"
    identity = {"passwd": (f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                           f"{user}:x:{uid}:{uid}:autonomy zone {zone}:/tmp:/usr/sbin/nologin\n"
                           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n").encode(),
                "group": f"root:x:0:\n{user}:x:{uid}:\nnogroup:x:65534:\n".encode()}
    etc = directory / "etc"
    etc.mkdir(mode=0o755, exist_ok=True)
    for name, content in identity.items():
        _replace(directory / name, content)
        _replace(etc / name, content)
    for name in _ETC:
        host = Path("/etc") / name
        if name in _ETC_TREES:
            if host.is_dir():
                (etc / name).mkdir(mode=0o755, exist_ok=True)
        elif host.is_symlink():  # localtime -> /usr/share/zoneinfo/...: the same link (/usr is mounted)
            if not (etc / name).is_symlink() or os.readlink(etc / name) != os.readlink(host):
                _replace_link(etc / name, os.readlink(host))
        elif host.is_file():
            try:
                content = host.read_bytes()
            except OSError:  # unreadable to root too: leave it out, as the bind did not exist either
                continue
            _replace(etc / name, content)
    return directory / "passwd"


def _replace(path: Path, content: bytes) -> None:
    """``path`` holds ``content`` (0644), written to a temporary file and renamed over it if it differed."""
    try:
        if path.read_bytes() == content:
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _replace_link(path: Path, target: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, path)
