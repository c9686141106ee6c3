import re
from typing import Annotated

from pydantic import AfterValidator, Field

from app.core.schemas import BoundedText, InputModel, ReadModel, Timestamp

MAX_POINTS, MAX_POINT_LENGTH = 30, 1000

# What a list item starts with in Markdown or a word processor: the outputs draw the list, so a
# point carrying its own marker would print twice marked ("- - Démarche…"). A sign before a
# number ("-5 % de sorties", "+12 places") is text, not a marker.
LIST_MARKER = re.compile(r"^([-*+•‣◦▪●○–—]|\d{1,3}[.)])(\s|$)")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_point(point: str) -> str:
    if CONTROL.search(point):
        raise ValueError("must be one line of plain text (no line break, tab or control character)")
    if marker := LIST_MARKER.match(point):
        raise ValueError(f"must not start with a list marker ({marker.group(1)!r}): the bilan draws the list itself")
    return point


Point = Annotated[BoundedText(MAX_POINT_LENGTH, min_length=1), AfterValidator(_plain_point)]


class AssessmentWrite(InputModel):
    points: list[Point] = Field(
        min_length=1,
        max_length=MAX_POINTS,
        description=f"1 to {MAX_POINTS} points, each 1 to {MAX_POINT_LENGTH} characters of plain text on one line,"
        " without a leading list marker",
        examples=[["Démarche concertée continue entre les services du Département et les opérateurs conventionnés ;"]],
    )


class AssessmentRead(ReadModel):
    action: str = Field(description="The action's code")
    year: int
    points: list[str]
    updated_at: Timestamp
