"""The reference of `make bench`'s HTTP figures: a FastAPI app that answers a fixed list of 50 items
in the API's list envelope, served by the same uvicorn, so that a ratio to it measures what the
API's own work costs (key, database, validation, serialisation), not what the stack costs."""

from fastapi import FastAPI

ITEMS = [
    {"id": number, "code": f"item-{number}", "name": f"Élément {number}", "commune": "Le Mans", "places": number % 7}
    for number in range(1, 51)
]
PAGE = {"items": ITEMS, "total": len(ITEMS), "page": 1, "size": 50}

app = FastAPI(title="Static reference list")


@app.get("/static")
def static_list() -> dict:
    return PAGE
