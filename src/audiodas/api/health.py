"""Health (the database and the engine, as its last report shows it) and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from audiodas.adapters import engine_reports
from audiodas.api import dependencies
from audiodas.api.access import Authorized
from audiodas.api.schemas import JSONBody

router = APIRouter(tags=["operations"], route_class=Authorized)


@router.get(
    "/healthz",
    summary="200 when the database answers and an engine reports (`degraded` if an inference "
    "is stuck past its timeout); 503 otherwise",
)
async def healthz(request: Request) -> JSONBody:
    runtime = dependencies.runtime(request)
    body: dict = {"status": "ok"}
    try:
        await runtime.service.reads.ping()
        body["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - whatever stops the ping, the database is not ok
        body["status"], body["database"] = "unavailable", f"unreachable: {exc.__class__.__name__}"
    engines = engine_reports.live_states(runtime.settings.run_path)
    if not engines:
        body["status"], body["engine"] = "unavailable", "no engine has reported"
    else:
        body["engine"] = _summary(engines)
        if body["status"] == "ok" and body["engine"]["inference"]["stuck"]:
            body["status"] = "degraded"
    return JSONBody(body, status_code=503 if body["status"] == "unavailable" else 200)


def _summary(engines: list[dict]) -> dict:
    inference = [e["inference"] for e in engines]
    return {
        "engines": len(engines),
        "processing": any(e["consumes"] and not e["stopping"] for e in engines),
        "in_flight": sum(len(e["in_flight"]) for e in engines),
        "slots": {
            kind: {"in_use": slots["in_use"], "capacity": slots["capacity"]}
            for kind, slots in engine_reports.slot_totals(engines).items()
        },
        "inference": {
            "processes": sum(len(i["processes"]) for i in inference),
            **{
                key: sum(i[key] for i in inference)
                for key in ("stuck", "timeouts", "deaths", "restarts")
            },
        },
    }


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
