"""Streaming artifact upload: hash and count bytes as they arrive, spool to a temporary file,
refuse with 413 as soon as the size limit is passed."""

import hashlib

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from core.api import PayloadTooLarge

# Multipart framing and the other form fields add a little to the body around the file itself.
MULTIPART_OVERHEAD = 1024 * 1024


def too_large_message() -> str:
    return f"Artifact exceeds the limit of {settings.ARTIFACT_MAX_BYTES} bytes."


class StreamingHashHandler(TemporaryFileUploadHandler):
    """Spool to disk and compute SHA-256 while the bytes arrive (`uploaded.sha256`); no limit
    but the disk (monitoring's data files use it as it is)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.hasher = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        self.hasher.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self.hasher.hexdigest()
        return uploaded


class HashingUploadHandler(StreamingHashHandler):
    """An artifact: 413 as soon as it passes `ARTIFACT_MAX_BYTES`."""

    def receive_data_chunk(self, raw_data, start):
        if self.received + len(raw_data) > settings.ARTIFACT_MAX_BYTES:
            raise PayloadTooLarge(too_large_message())
        return super().receive_data_chunk(raw_data, start)


class ArtifactMultiPartParser(MultiPartParser):
    """DRF's multipart parser with our hashing handler instead of the in-memory ones."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.ARTIFACT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(too_large_message())
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        handlers = [HashingUploadHandler(request._request)]
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data, files = DjangoMultiPartParser(meta, stream, handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)
