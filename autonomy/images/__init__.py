"""The image pipeline shared by the Docker runtime and the Kubernetes backend.

One module builds container images for both: ``images/NAME/Dockerfile`` built as written, our own
base image standing in for ``ghcr.io/build-trust/autonomy-python``, pushed to a registry and pinned by
digest (docs/images.md).

- :mod:`~autonomy.images.naming`: the pure part every backend agrees on (repositories, content tags);
- :func:`publish` / :func:`image_references`: build, push and pin a zone's images; :func:`build_local`
  builds them for the local engine only (the Docker runtime);
- :func:`build_base_image`: the base image, made offline from the Debian mirror and this checkout;
- :func:`build_image`, :func:`push_image`, :func:`connect`: the steps, for backends that need them.

Everything but ``naming`` needs the ``docker`` extra (``pip install 'autonomy-runtime[docker]'``) and
a running Docker Engine, and says so (MissingExtra, DockerUnavailable) when they are missing.
"""

from autonomy.images.base import BASE_TAGS, BaseImage, base_key, build_base_image, local_base_image
from autonomy.images.build import build_image
from autonomy.images.engine import Progress, connect
from autonomy.images.errors import BaseImageError, DockerUnavailable, ImageBuildError, ImageError, ImagePushError
from autonomy.images.naming import BASE_IMAGES, content_tag, image_repository, local_image_dirs
from autonomy.images.publish import LOCAL_REGISTRY, build_local, image_references, publish
from autonomy.images.push import push_image

__all__ = [
    "BASE_IMAGES",
    "BASE_TAGS",
    "BaseImage",
    "BaseImageError",
    "DockerUnavailable",
    "ImageBuildError",
    "ImageError",
    "ImagePushError",
    "LOCAL_REGISTRY",
    "Progress",
    "base_key",
    "build_base_image",
    "build_image",
    "build_local",
    "connect",
    "content_tag",
    "image_references",
    "image_repository",
    "local_base_image",
    "local_image_dirs",
    "publish",
    "push_image",
]
