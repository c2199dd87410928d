"""Errors of the image pipeline. Each names the image, what failed and what to do.

Drawn as in the tree of :mod:`autonomy.errors` (with each class's ``http_status``):

    AutonomyError [500]
    ├── ImageError [500]                         (images.errors) an image could not be built, imported or pushed
    │   ├── DockerUnavailable [503]              no Docker Engine answers (says how to start one)
    │   ├── ImageBuildError [422]                a Dockerfile failed to build (names the step, shows the output tail)
    │   ├── ImagePushError [502]                 the registry refused or did not take a push
    │   └── BaseImageError [500]                 the base image could not be made (debootstrap, wheels, import)

``MissingExtra`` (from :mod:`autonomy.errors`) is raised when the ``docker`` SDK is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence

from autonomy.errors import AutonomyError

__all__ = ["ImageError", "DockerUnavailable", "ImageBuildError", "ImagePushError", "BaseImageError"]

START_DOCKERD = (
    "start the Docker Engine (as root: 'scripts/system-deps' does it for the tests, or "
    "'dockerd --config-file FILE &'), or point DOCKER_HOST at a running one"
)


class ImageError(AutonomyError):
    """An image could not be built, imported or pushed. ``image`` names it (None when not about one)."""

    http_status = 500

    def __init__(self, message: str, *, image: str | None = None) -> None:
        self.image = image
        super().__init__(message)


class DockerUnavailable(ImageError):
    """No Docker Engine answers at ``url``; ``detail`` is what the client said."""

    http_status = 503

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"The Docker Engine at {url} does not answer ({detail}): {START_DOCKERD}")


class ImageBuildError(ImageError):
    """Building ``image`` from ``context`` failed at ``step`` (``Step 3/5 : RUN ...``, or None when the
    failure came before any step); ``tail`` holds the last lines of the build output."""

    http_status = 422

    def __init__(self, image: str, context: str, step: str | None, error: str, tail: Sequence[str]) -> None:
        self.context = context
        self.step = step
        self.error = error
        self.tail = list(tail)
        where = f" at {step}" if step else ""
        lines = [f"Image {image!r} ({context}/Dockerfile) failed to build{where}: {error}"]
        if self.tail:
            lines.append("last lines of the build output:")
            lines += [f"  {line}" for line in self.tail]
        lines.append("fix the Dockerfile or the files it uses, then deploy again")
        super().__init__("\n".join(lines), image=image)


class ImagePushError(ImageError):
    """Pushing ``image`` (``reference``) failed; ``error`` is the registry's or the engine's message."""

    http_status = 502

    def __init__(self, image: str, reference: str, error: str) -> None:
        self.reference = reference
        self.error = error
        super().__init__(
            f"Image {image!r} could not be pushed to {reference}: {error}. Check that the registry is "
            "running and reachable from the Docker Engine (a registry on 127.0.0.0/8 needs no TLS; any "
            "other needs TLS or an 'insecure-registries' entry in the daemon's config), and that you are "
            "logged in to it if it needs credentials ('docker login')",
            image=image,
        )


class BaseImageError(ImageError):
    """The base image could not be made; the message says which step and what to do."""
