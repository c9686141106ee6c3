"""Text every output can carry (issue 22): control characters (C0, DEL, C1) are refused on input
with a 422 naming the field, tab and line feed only where a field holds lines; and the exports
carry any string already stored (here one written by raw SQL) without failing."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import text


@pytest.mark.parametrize("character", ["\x07", "\x1b", "\x7f", "\x85", "\x9b", "\x0b"])
def test_a_control_character_in_any_text_field_is_refused_naming_the_field(client, admin, character):
    response = client.post("/api/v1/operators", json={"name": f"Opérateur{character}X"}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "name"]
    assert "control characters" in response.json()["errors"][0]["msg"]
    names = [operator["name"] for operator in client.get("/api/v1/operators", params={"limit": 500}).json()["items"]]
    assert f"Opérateur{character}X" not in names


def test_lines_and_tabs_only_where_a_field_holds_lines(client, admin):
    one_line = client.post("/api/v1/families", json={"code": "lignes", "name": "Deux\nlignes"}, headers=admin)
    assert one_line.status_code == 422, one_line.text
    assert one_line.json()["errors"][0]["loc"] == ["body", "name"]
    tab = client.post("/api/v1/families", json={"code": "lignes", "name": "Deux\tcolonnes"}, headers=admin)
    assert tab.status_code == 422, tab.text
    lines = client.post(
        "/api/v1/families",
        json={"code": "lignes", "name": "Lignes", "description": "Première ligne\n\tseconde ligne"},
        headers=admin,
    )
    assert lines.status_code == 201, lines.text
    assert client.get("/api/v1/families/lignes").json()["description"] == "Première ligne\n\tseconde ligne"
    escape = client.post(
        "/api/v1/families",
        json={"code": "escape", "name": "Escape", "description": "rouge \x1b[31m"},
        headers=admin,
    )
    assert escape.status_code == 422
    assert escape.json()["errors"][0]["loc"] == ["body", "description"]


def test_stored_control_characters_do_not_break_any_bilan_format(client, session, make_key):
    """A name holding BEL and ESC, written around the API (an old row, a manual fix): every format
    of the bilan still answers, and the XLSX holds the name without them."""
    family_id, family_name = session.execute(text("SELECT id, name FROM family ORDER BY position, code")).first()
    session.execute(
        text("UPDATE family SET name = :name WHERE id = :id"),
        {"name": f"\x07{family_name}\x1b[0m\x85", "id": family_id},
    )
    session.execute(
        text("UPDATE action SET name = :name WHERE family_id = :id"), {"name": "Action\x07 sonore", "id": family_id}
    )
    session.commit()
    reader = make_key("reader")
    xlsx = client.get("/api/v1/bilan", params={"years": "2019,2020", "format": "xlsx"}, headers=reader)
    assert xlsx.status_code == 200, xlsx.text
    workbook = load_workbook(io.BytesIO(xlsx.content))
    texts = [cell for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row if cell]
    assert f"{family_name}[0m" in texts
    assert "Action sonore" in texts
    assert not any(isinstance(cell, str) and ("\x07" in cell or "\x1b" in cell) for cell in texts)
    for format_ in ("csv", "md", "html", "json"):
        response = client.get("/api/v1/bilan", params={"years": "2019,2020", "format": format_}, headers=reader)
        assert response.status_code == 200, (format_, response.text)
        if format_ != "json":
            assert "\x07" not in response.text and "\x1b" not in response.text, format_
