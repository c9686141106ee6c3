"""Catalogue PDI: the REST service behind a département's Programme Départemental d'Insertion."""
