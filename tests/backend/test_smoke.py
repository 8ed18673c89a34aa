def test_health(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["migrations"] == "current"


def test_world(make, client):
    w = make.world()
    response = client.get("/api/v1/tasks", headers=w.h["clerk1"])
    assert response.status_code == 200, response.json
    assert response.json["total"] == 2
    assert {task["store"] for task in response.json["items"]} == {"S001"}
