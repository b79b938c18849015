from __future__ import annotations

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from samaconso.app import create_app
from samaconso.settings import Settings


async def test_health_answers_running_for_the_load_balancer(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "running"
    assert body["version"]


async def test_ready_checks_every_dependency(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgresql", "redis", "broker", "s3"}
    assert all(check["status"] == "up" for check in body["checks"].values())


async def test_ready_names_the_failing_dependency(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "redis_timeout_s": 0.5})
    app = create_app(broken)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["redis"]
        assert body["checks"]["postgresql"]["status"] == "up"
        assert response.headers["retry-after"]
        # liveness does not depend on Redis
        assert (await http.get("/health")).json()["status"] == "running"


async def test_ready_reports_broker_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"broker_url": "amqp://guest:guest@127.0.0.1:1//"})
    app = create_app(broken)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["failing"] == ["broker"]


async def test_docs_and_openapi_open(client: AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "SamaConso API"
    assert "/health" in spec["paths"]
