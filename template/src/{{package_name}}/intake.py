"""What a message must be before the pipeline takes it: one check for the receiver and the flow."""

from __future__ import annotations

from .areas import area_for_code
from .documents import Document, DocumentError, read_document
from .feeds import Feed
from .settings import Settings


def accept(message: bytes, feed: Feed, settings: Settings) -> Document:
    """The message's document, if this feed handles it; DocumentError / AcknowledgementError if not."""
    document = read_document(message, settings.max_document_bytes)
    if document.document_type != feed.document_type:
        raise DocumentError(
            f"document type {document.document_type} is not handled by the {feed.name} feed "
            f"(it expects {feed.document_type})"
        )
    area_for_code(document.area)
    return document
