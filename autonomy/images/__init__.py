"""The image pipeline shared by the Docker runtime and the Kubernetes backend.

One module builds container images for both: ``images/NAME/Dockerfile`` built as written, our own
base image standing in for ``ghcr.io/build-trust/autonomy-python``, pushed to a registry and pinned by
digest. :mod:`autonomy.images.naming` holds the pure part every backend agrees on: where an image of a
zone lives and which tag its content gets.
"""

from autonomy.images.naming import BASE_IMAGES, content_tag, image_repository, local_image_dirs

__all__ = ["BASE_IMAGES", "content_tag", "image_repository", "local_image_dirs"]
