"""HTTP and WebSocket adapters, one folder per dialect (`seed/`, `openai/`): each converts its wire
schema into a service's input and the service's result into its wire schema. Errors become wire
formats only in `error_wire.py`; SSE responses are built by `sse.py`."""
