"""Offset pagination over a select statement."""

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


@dataclass
class Page:
    """One page of results and the total count behind it."""

    items: list
    page: int
    page_size: int
    total: int


def paginate(session: Session, statement: Select, *, page: int, page_size: int) -> Page:
    """Run a select for one page and count the whole result."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = session.scalars(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(items=list(items), page=page, page_size=page_size, total=total or 0)
