"""The seenby wire protocol v1, client side: HTTP transport, push stream, transcript, strict
deviations, payload validation and broken bodies generated from the request schemas."""
