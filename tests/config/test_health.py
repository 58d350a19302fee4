import pytest
from django.db import connection

from config.celery import app as celery_app
from devtools.embedded import free_port


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_healthz_is_503_when_broker_is_down(client):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        response = client.get("/healthz")
    finally:
        celery_app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["broker"] != "ok"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_database_is_down(client):
    original_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port

    assert response.status_code == 503
    assert response.json()["database"] == "OperationalError"
    assert response.json()["broker"] == "ok"


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
