"""The Debian root filesystem under the base image, made offline from a Debian mirror.

``debootstrap --variant=minbase`` of Debian bookworm with ``python3``, ``python3-venv`` and
``ca-certificates`` (no Docker Hub, no image registry: only the Debian mirror), made into a tarball
kept in a cache folder and ``docker import``-ed as ``autonomy/debian-rootfs:<key>``. ``<key>`` is a
hash of every input (suite, mirror, packages, the host's extra CA certificates, this recipe's
version), so it is made once per machine and inputs: the Docker image is reused while it exists, the
tarball re-imported when the engine lost it (a new data root), debootstrap run only when both are gone.
It is also tagged ``autonomy/debian-rootfs:bookworm`` (:data:`ROOTFS_SUITE_TAG`): a stable name for
Dockerfiles of non-Python images (a Node.js UI: ``FROM autonomy/debian-rootfs:bookworm`` then ``RUN
apt-get install nodejs``), whose layers then stay cached while autonomy's source (the base image) changes.

Needs root (debootstrap and chroot do) and the ``debootstrap`` command (Debian package ``debootstrap``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autonomy.images.engine import Progress, docker_errors, report
from autonomy.images.errors import BaseImageError

if TYPE_CHECKING:
    import docker

__all__ = ["RootfsRecipe", "cache_dir", "rootfs_image", "ROOTFS_REPOSITORY", "ROOTFS_SUITE_TAG"]

ROOTFS_REPOSITORY = "autonomy/debian-rootfs"
ROOTFS_SUITE_TAG = f"{ROOTFS_REPOSITORY}:bookworm"  # the default recipe's root, by suite
KEY_LABEL = "computer.autonomy.rootfs.key"
_RECIPE_VERSION = "1"  # bump when _customize or the import changes what the root holds
_EXTRA_CAS = Path("/usr/local/share/ca-certificates")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")
_TRIMMED_FILES = ("var/lib/apt/lists/*_*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb")


@dataclass(frozen=True)
class RootfsRecipe:
    """What goes into the root filesystem. ``python`` is the suite's Python (``major.minor``): the
    wheels installed on top must be built for it. ``extra_cas`` are ``(file name, PEM bytes)`` added to
    the system's trust store (by default the host's ``/usr/local/share/ca-certificates/*.crt``, so that
    a ``RUN pip install`` behind the same TLS-inspecting proxy as the host works)."""

    suite: str = "bookworm"
    python: str = "3.11"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = ("python3", "python3-venv", "ca-certificates")
    extra_cas: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @classmethod
    def default(cls) -> RootfsRecipe:
        """Bookworm from ``AUTONOMY_DEBIAN_MIRROR`` (default deb.debian.org) with the host's extra CAs."""
        cas = tuple((p.name, p.read_bytes()) for p in sorted(_EXTRA_CAS.glob("*.crt")) if p.is_file())
        return cls(mirror=os.environ.get("AUTONOMY_DEBIAN_MIRROR") or cls.mirror, extra_cas=cas)

    @property
    def key(self) -> str:
        """16 hex characters of a SHA-256 over every input."""
        digest = hashlib.sha256(f"{_RECIPE_VERSION}\0{self.suite}\0{self.mirror}\0{','.join(self.packages)}".encode())
        for name, data in self.extra_cas:
            digest.update(b"\0%s\0%s" % (name.encode(), data))
        return digest.hexdigest()[:16]

    @property
    def reference(self) -> str:
        return f"{ROOTFS_REPOSITORY}:{self.key}"


def cache_dir() -> Path:
    """``AUTONOMY_IMAGE_CACHE``, else ``$XDG_CACHE_HOME/autonomy/images`` (``~/.cache/autonomy/images``)."""
    explicit = os.environ.get("AUTONOMY_IMAGE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autonomy" / "images"


def rootfs_image(client: docker.DockerClient, recipe: RootfsRecipe, *, rebuild: bool = False,
                 cache: Path | None = None, progress: Progress | None = None) -> str:
    """The reference of the imported root filesystem for ``recipe``, made if missing (or if ``rebuild``).
    Blocks (debootstrap takes one to two minutes). Raises :class:`BaseImageError`."""
    errors = docker_errors()
    if not rebuild:
        try:
            client.images.get(recipe.reference)
            report(progress, f"base: Debian {recipe.suite} root {recipe.reference} is in the engine")
            _tag_suite(client, recipe)
            return recipe.reference
        except errors.ImageNotFound:
            pass
    tarball = (cache or cache_dir()) / f"debian-{recipe.suite}-{recipe.key}.tar.gz"
    if rebuild or not tarball.is_file():
        make_tarball(recipe, tarball, progress=progress)
    else:
        report(progress, f"base: using the cached root {tarball}")
    report(progress, f"base: importing {tarball.name} as {recipe.reference}")
    changes = [f"ENV PATH={_PATH}", "ENV LANG=C.UTF-8", f"LABEL {KEY_LABEL}={recipe.key}", 'CMD ["python3"]']
    try:
        client.api.import_image_from_file(str(tarball), repository=ROOTFS_REPOSITORY, tag=recipe.key,
                                          changes=changes)
        client.images.get(recipe.reference)
    except errors.DockerException as exc:
        raise BaseImageError(f"docker import of {tarball} failed: {exc}. Delete that file to make it again "
                             "('autonomy image build-base --rebuild')") from exc
    _tag_suite(client, recipe)
    return recipe.reference


def _tag_suite(client: docker.DockerClient, recipe: RootfsRecipe) -> None:
    """Tag the root ``autonomy/debian-rootfs:<suite>`` too (the name app Dockerfiles use)."""
    client.api.tag(recipe.reference, ROOTFS_REPOSITORY, recipe.suite, force=True)


def make_tarball(recipe: RootfsRecipe, tarball: Path, *, progress: Progress | None = None) -> Path:
    """debootstrap ``recipe`` and write its root as a gzip'ed tar to ``tarball`` (atomically)."""
    if os.geteuid() != 0:
        raise BaseImageError("Making the base image's Debian root needs root (debootstrap and chroot): run "
                             "'autonomy image build-base' as root once (e.g. with sudo); afterwards it is cached")
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists()
                                                  else None)
    if debootstrap is None:
        raise BaseImageError("The base image's Debian root is made with debootstrap, which is not installed: "
                             "apt-get install debootstrap")
    tarball.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=tarball.parent) as tmp:
        root = Path(tmp) / "root"
        argv = [debootstrap, "--variant=minbase", f"--include={','.join(recipe.packages)}", recipe.suite,
                str(root), recipe.mirror]
        report(progress, f"base: debootstrap {recipe.suite} from {recipe.mirror} (one to two minutes)")
        _run_debootstrap(argv, recipe, progress)
        _customize(root, recipe)
        partial = Path(tmp) / "root.tar.gz"
        report(progress, "base: packing the root")
        done = subprocess.run(["tar", "-C", str(root), "--numeric-owner", "--use-compress-program=gzip -1",
                               "-cf", str(partial), "."], capture_output=True, text=True)
        if done.returncode != 0:
            raise BaseImageError(f"packing the Debian root failed: {done.stderr.strip()[-500:]}")
        os.replace(partial, tarball)
    return tarball


def _run_debootstrap(argv: list[str], recipe: RootfsRecipe, progress: Progress | None) -> None:
    tail: deque[str] = deque(maxlen=15)
    seen: set[str] = set()
    last = 0.0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "LC_ALL": "C"}) as proc:
        for raw in proc.stdout or ():
            line = raw.rstrip()
            tail.append(line)
            # the first line of each phase (Retrieving, Extracting, ...), then one every 5 s: not one per package
            verb = " ".join(line.split()[:2])
            if verb not in seen or time.monotonic() - last >= 5:
                seen.add(verb)
                last = time.monotonic()
                report(progress, f"base: {line}")
        code = proc.wait()
    if code != 0:
        shown = "\n  ".join(tail)
        raise BaseImageError(
            f"debootstrap of Debian {recipe.suite} from {recipe.mirror} failed (exit {code}):\n  {shown}\n"
            "check that the mirror is reachable from this machine, or set AUTONOMY_DEBIAN_MIRROR to another one")


def _customize(root: Path, recipe: RootfsRecipe) -> None:
    """Trust the extra CAs, point pip at the system store, create /app, drop docs and caches."""
    if recipe.extra_cas:
        target = root / _EXTRA_CAS.relative_to("/")
        target.mkdir(parents=True, exist_ok=True)
        for name, data in recipe.extra_cas:
            (target / name).write_bytes(data)
        done = subprocess.run(["chroot", str(root), "update-ca-certificates"], capture_output=True, text=True)
        if done.returncode != 0:
            raise BaseImageError(f"update-ca-certificates in the Debian root failed: {done.stderr.strip()[-500:]}")
    # pip inside a venv uses its own certifi bundle unless told otherwise: use the system store
    (root / "etc" / "pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    (root / "app").mkdir(exist_ok=True)  # `WORKDIR /app` of an imported image does not create it
    for relative in _TRIMMED:
        folder = root / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    for pattern in _TRIMMED_FILES:  # apt's package lists and caches; `apt-get update` brings them back
        for path in root.glob(pattern):
            path.unlink()
    (root / "etc" / "resolv.conf").write_text("")  # the engine mounts its own
