"""The demo data set (`pdi demo`): synthetic beneficiaries, pathways and activity counts for 2018–2020
whose bilan reproduces the tables of the département's review (shared/seeds/bilan-pdi-2019-2021.md).

On a database holding the seed catalogue (seed/loader.py) and this data set,
GET /api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31 shows every figure of the document's
tables: counts and euros exactly, rates as the document prints them (to the whole percent,
half up), "NC" as null; 2018 and 2019 consolidated. That holds at scale 1 only: `scale=N`
repeats each synthetic person's pathways N times with distinct beneficiaries (N times the
counts and the occupancy), for load tests. Everything is drawn from generators seeded with one
fixed seed, so two runs give the same rows.

By concern, in the order the data flows:
- targets.py: the document's figures the demo must reproduce, the seed, the years, the as-of date;
- profiles.py: how each action's people and pathways look where the document says nothing;
- model.py: the catalogue as the planner reads it, and the planned stays;
- calendar.py: days, months, and the weights of entry days (weekends, August, lockdowns);
- planner.py: the solver over an action's years (who stays on past 31 December, backtracking);
- year_solver.py: the solver of one year (the dates, so that the days of stay add up exactly);
- outcomes.py: exit reasons (each rate's numerator exact) and AI/ETTI hours;
- plan.py: `plan_demo`, the whole data set in pure Python (people, prescriptions, activity);
- rows.py: one copy's beneficiary and pathway rows;
- esf.py: the FSE's participant records and follow-ups of the co-funded conventions;
- writer.py: `generate_demo` and `read_catalogue`, the only part that touches the database.
"""

from seed.demo.writer import generate_demo, read_catalogue

__all__ = ["generate_demo", "read_catalogue"]
