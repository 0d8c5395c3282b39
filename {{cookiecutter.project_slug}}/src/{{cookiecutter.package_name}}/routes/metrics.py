"""GET /metrics: Prometheus' exposition format at the path Prometheus scrapes by default.

A route rather than a mounted app: a mount at /metrics answers only /metrics/, and sends
/metrics a 307 that a scraper would have to follow on every scrape.
"""

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from ..dependencies import ResourcesDep

router = APIRouter(tags=["metrics"])


# Not in the OpenAPI schema: its contract is Prometheus' text format, not JSON.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, resources: ResourcesDep) -> Response:
    """Prometheus' exposition of the service's metrics."""
    # `async def`: rendering a few dozen series takes microseconds, less than a thread hop.
    # choose_encoder honours the scraper's Accept header (text or OpenMetrics).
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(resources.metrics.registry), headers={"content-type": content_type})
