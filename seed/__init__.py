"""Seed data: the catalogue of the bilan PDI 2019/2021 (data files + an idempotent loader)."""
