"""Statistical secrecy, defined once: which figures are withheld from whom.

A figure about persons rests on the persons its base counts (`Indicator.base`,
app/reference/indicators.py). It is withheld when that base counts between 1 and N − 1 persons
(N = PDI_MIN_CELL_SIZE, default 5; 0 or 1 turns secrecy off):
- a count of persons (persons present, entries, exits, decisions…) whose value is 1 to N − 1;
- a rate or a mean whose denominator (`persons`) is 1 to N − 1;
- a rate whose numerator (`part`) or its complement (`persons − part`) is 1 to N − 1: with its
  base published beside it, the rate gives that count back (1 exit in 7 dynamic, 6 in 7).
Zeros are shown: nobody is described by them. Money, places, occupancy and the operators'
activity counters are not about persons and are never withheld. This is primary secrecy, cell by
cell: a withheld cell is not recomputed from the others (a total minus its other groups), which
the thresholds of CNIL and INSEE practice leave to the publisher of tables that add up.

Who sees every cell: admin keys, and an operator key reading only its own conventions (it holds
the persons' records already: /indicators and the ESF+ report, which keep it to them; the
bilan's actions whose conventions are all its own). Reader and portal keys, and operator keys
reading beyond their own conventions, get a withheld cell as null, named in `suppressed`.
"""

from collections.abc import Mapping

from app.core.caller import Caller, Role
from app.core.config import get_settings
from app.reference.indicators import INDICATORS_BY_CODE

MARK = "s"  # what the files print in a withheld cell (INSEE's convention), NC being "not known"


def note(min_size: int) -> str:
    return f"{MARK} : secret statistique (moins de {min_size} personnes)"


def min_cell_size_for(caller: Caller, *, own_conventions_only: bool) -> int:
    """The threshold for `caller`: 0 (every cell shown) for admin keys and for an operator key
    whose figures cover its own conventions only; otherwise PDI_MIN_CELL_SIZE (0 when ≤ 1)."""
    if caller.role == Role.admin or (caller.role == Role.operator and own_conventions_only):
        return 0
    size = get_settings().min_cell_size
    return size if size > 1 else 0


def is_small(count: int | None, min_size: int) -> bool:
    """A count of 1 to min_size − 1 persons."""
    return count is not None and 0 < count < min_size


def withheld(values: Mapping[str, object], counts: Mapping[str, int], min_size: int) -> list[str]:
    """The codes among `values` to withhold, in their order; a figure not known (None) already
    tells nothing and is not listed."""
    if not min_size:
        return []
    codes = []
    for code, value in values.items():
        indicator = INDICATORS_BY_CODE.get(code)
        if value is None or indicator is None or indicator.base is None:
            continue
        persons = counts.get(indicator.base.persons, 0)
        small = is_small(persons, min_size)
        if not small and indicator.base.part is not None:
            part = counts.get(indicator.base.part, 0)
            small = is_small(part, min_size) or is_small(persons - part, min_size)
        if small:
            codes.append(code)
    return codes


def withhold(
    values: Mapping[str, object], counts: Mapping[str, int], min_size: int
) -> tuple[dict[str, object], list[str]]:
    """`values` with the withheld figures set to None, and their codes."""
    codes = withheld(values, counts, min_size)
    return {code: None if code in codes else value for code, value in values.items()}, codes


SEX_CELLS = ("F", "M", "X")


def withhold_counts(values: Mapping[str, int], min_size: int) -> tuple[dict[str, int | None], list[str]]:
    """A row of counts of persons by sex and in total (the ESF+ report): the small cells set to
    None, and their names. When a single sex's cell is withheld, the total would give it back
    (less the sex not recorded): the smallest other sex cell that is not 0 goes too."""
    if not min_size:
        return dict(values), []
    cells = [name for name, count in values.items() if is_small(count, min_size)]
    by_sex = [name for name in cells if name in SEX_CELLS]
    if len(by_sex) == 1 and "total" not in cells:
        others = [name for name in SEX_CELLS if name not in cells and values.get(name)]
        if others:
            cells.append(min(others, key=lambda name: values[name]))
    return {name: None if name in cells else count for name, count in values.items()}, [
        name for name in values if name in cells
    ]
