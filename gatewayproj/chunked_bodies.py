"""Request bodies sent with ``Transfer-Encoding: chunked`` reach Django.

Django reads exactly ``CONTENT_LENGTH`` bytes of ``wsgi.input`` and treats a
request without it as having no body at all, so a client that streams its form
(no Content-Length) was told ``grant_type`` is missing. gunicorn decodes the
chunks itself and marks such input ``wsgi.input_terminated`` (readable to its
end); this reads it, at most one byte past Django's own upload limit so an
oversized body still fails the size checks, and tells Django its length.
Under the gateway's own server (``gatewayproj.server``) the whole body has been
read and its length set before Django is called, so this passes the request through.
"""

import io

from django.conf import settings


class ChunkedBodies:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if (
            environ.get("wsgi.input_terminated")
            and not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = environ["wsgi.input"].read(-1 if limit is None else limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)
