"""ESF+ (FSE, SPEC C9), in two layers of the domain order (pyproject.toml, docs/ARCHITECTURE.md):

- records/: what each pathway carries for the FSE (the participant at entry and on leaving, the
  follow-up's table) and the rules of reading and writing it, below the pathways, whose writes
  and reads call it;
- reporting/: the six-month follow-ups' batches, the incomplete records, the ESF+ report and
  their routes, above the pathways and the indicators they read.
"""
