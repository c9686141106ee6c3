"""NC, defined once: a figure that is not known is None (printed "NC"), and whatever is made from
an unknown part is unknown too (SPEC C13). A total with an unknown part is never a partial sum,
and a rate whose numerator or denominator is unknown is not a rate.

Every total and rate of the indicators and the bilan goes through these helpers: `total` over
Python values, `counted_total` over an SQL aggregate (SUM skips NULLs, so the query also counts
the parts it expected and the known ones), `ratio` for rates and means.
"""

from collections.abc import Iterable
from decimal import Decimal

Known = int | float | Decimal
Figure = int | float | Decimal | None  # None: not known, "NC"


def total(parts: Iterable[Figure]) -> Figure:
    """The sum of `parts`, or None when one of them is not known. Over no part: 0."""
    result: Known = 0
    for part in parts:
        if part is None:
            return None
        result += part
    return result


def counted_total(summed: Figure, *, known: int, expected: int) -> Figure:
    """An SQL SUM over `expected` parts of which `known` were not NULL: the sum only when every
    part was known. Over no part there is nothing to know (a budget without any convention
    year): None, as the SUM itself."""
    if known != expected:
        return None
    return summed


def ratio(numerator: Figure, denominator: Figure) -> float | None:
    """numerator ÷ denominator; None when either is not known or the denominator is 0 (a rate
    over nothing)."""
    if numerator is None or denominator is None or not denominator:
        return None
    return numerator / denominator
