"""`{items, total, page, size}` list pages, counted in SQL."""

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Row, func, select
from sqlalchemy.sql import Select
from sqlmodel import Session

T = TypeVar("T")

MAX_PAGE_SIZE = 500
# Far past any real list, and small enough that the offset fits the databases' 64-bit integers.
MAX_PAGE = 1_000_000


class PageParams(BaseModel):
    page: int = 1
    size: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


async def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, size=size)  # async: no thread hop for a check of two numbers


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @classmethod
    def of(cls, items: list, total: int, params: PageParams, **fields):
        """The page `params` asked for, holding `items` of `total` (and a subclass's `fields`)."""
        return cls(items=items, total=total, page=params.page, size=params.size, **fields)


def count_rows(session: Session, statement: Select) -> int:
    """How many rows `statement` gives, counted by the database (its ORDER BY dropped)."""
    return session.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()


def paginate(session: Session, statement: Select, params: PageParams) -> tuple[list, int]:
    """The entities of one page of `statement` (which must carry its ORDER BY) and the total count."""
    rows, total = paginate_rows(session, statement, params)
    return [row[0] for row in rows], total


def paginate_rows(session: Session, statement: Select, params: PageParams) -> tuple[list[Row], int]:
    """The rows of one page of `statement` (several columns each) and the total count.

    A page with fewer rows than its size is the last one: it gives the total itself, so the
    database counts the rows only when the page is full (or empty past the first page). A short
    list, such as the catalogue's, costs one query instead of two."""
    rows = list(session.execute(statement.offset(params.offset).limit(params.size)).all())
    if 0 < len(rows) < params.size or (not rows and params.page == 1):
        return rows, params.offset + len(rows)
    return rows, count_rows(session, statement)
