"""HTTP and WebSocket controllers; each knows HTTP and schemas, and calls a service."""
