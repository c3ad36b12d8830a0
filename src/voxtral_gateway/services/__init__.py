"""Use cases: what the gateway does with a request, independent of HTTP."""
