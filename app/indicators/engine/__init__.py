"""The indicator engine: SPEC's indicators computed on demand, in SQL, for any scope and grouping.

Three GROUP BY queries do the counting, each one pass over its table:
- pathways (persons present, entries, exits by kind, prescriptions, days of stay, entry delays,
  hours thresholds),
- convention years (places, budgets, FSE, the occupancy denominator),
- activity records (one sum per metric);
Python only merges their per-group totals and divides.

Definitions (SPEC, "Indicators"): the window is W = [period start, min(period end, as_of)], days
counted inclusively. A pathway's stay is [entered_on, min(exited_on, as_of)], or [entered_on,
as_of] while it has no exit; a pathway entered after as_of has none. A cancelled pathway (a
prescription that never led to an entry) counts as a prescription only: no stay, entry or exit.
So do a refused, withdrawn or expired one (SPEC C7), which besides count as a decision on
`decided_on` (an acceptance too) and as a withdrawal or an expiry on the day it ended. A fourth
query counts the diagnostics assessed in W and, per dimension, those marking it a barrier; its
territory is the pathway's.

Territory is the one recorded with each pathway (SPEC C1), and convention years and activity
records have none. So the territory filter restricts pathways only, and a row grouped by
territory carries the convention-year and activity figures of the conventions in its other group keys, unsplit (the
same on each territory's row): an occupancy rate per territory is that territory's share of the
planned months, and the territory rates add up to the whole rate.

Which rows exist: with no group_by, one row; grouped by year only, one row per year of W;
otherwise one row per group that has something in W: a pathway whose stay meets W or that was
prescribed, entered, exited, answered, withdrawn or expired in W, a diagnostic assessed in W, a
convention year whose year meets W, or an activity record in W (when grouped by territory, only
pathways and diagnostics make rows, the other two having no territory). The bilan, which reads
a missing group as empty, asks for `every_group=False`: when all its figures are of stays, the
pathway query then reads only the pathways whose stay meets W.

The modules: compute.py (`compute`, `compute_for_years`: the entry points), framework.py (scope,
windows, the SQL every query shares), pathway_query.py and queries.py (the queries), totals.py
(their per-group totals and the indicators divided from them).
"""
