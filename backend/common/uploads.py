"""Reading raw request bodies (CSV, images) with type and size checks."""

import io
from typing import TextIO

from flask import request

from backend.errors import UnsupportedMediaType, ValidationFailed


def read_text_body(*content_types: str) -> str:
    """The UTF-8 body of a text upload, raw or as the 'file' part of a multipart form."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Send the CSV as the 'file' field.", errors={"file": ["Missing."]})
        data = upload.read()
    elif request.mimetype in content_types:
        data = request.get_data()
    else:
        raise UnsupportedMediaType(f"Send {' or '.join(content_types)} or multipart/form-data.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file is not UTF-8 text.", error="invalid_encoding",
                               errors={"file": ["Not UTF-8."]})


def text_body_stream(*content_types: str) -> TextIO:
    """The body of a large text upload as a stream (raw, or the 'file' part of a form)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Send the CSV as the 'file' field.", errors={"file": ["Missing."]})
        raw = upload.stream
    elif request.mimetype in content_types:
        raw = request.stream
    else:
        raise UnsupportedMediaType(f"Send {' or '.join(content_types)} or multipart/form-data.")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def csv_upload_doc(columns: str) -> dict:
    """The OpenAPI request body of a CSV upload, for `@blp.doc(**csv_upload_doc(...))`."""
    return {"requestBody": {
        "required": True,
        "description": f"UTF-8 CSV with a header line: {columns}",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}},
        },
    }}


IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def image_upload_doc() -> dict:
    """The OpenAPI request body of a raw photo upload."""
    return {"requestBody": {
        "required": True,
        "description": "The photo's bytes; their SHA-256 is the path's name",
        "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES},
    }}


def read_upload(*content_types: str) -> tuple[bytes, str]:
    """The raw bytes of an upload (raw body or the form's 'file' part) and its file name."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Send the CSV as the 'file' field.", errors={"file": ["Missing."]})
        return upload.read(), upload.filename or ""
    if request.mimetype in content_types:
        return request.get_data(), ""
    raise UnsupportedMediaType(f"Send {' or '.join(content_types)} or multipart/form-data.")
