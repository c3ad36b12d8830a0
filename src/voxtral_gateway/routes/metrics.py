"""GET /metrics: Prometheus metrics of every worker process of this server."""

from __future__ import annotations

from litestar import Controller, Response, get

from voxtral_gateway.observability.metrics import render_metrics


class MetricsController(Controller):
    path = "/metrics"
    tags = ["health"]

    @get(
        "/",
        operation_id="metrics",
        summary="Prometheus metrics",
        description=(
            "The text exposition format, summed over the gateway's worker processes: requests by route "
            "and status, latencies, audio seconds, real-time factor, upstream errors, admission control, "
            "rate-limit rejections, open streams, the backend pool. Never rate limited; keep it private "
            "(deploy/nginx.conf allows only loopback)."
        ),
        sync_to_thread=True,  # reads the workers' metric files
        media_type="text/plain",
    )
    def metrics(self) -> Response[bytes]:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)
