"""One text normalisation for every text filter, the same on SQLite and PostgreSQL.

`fold` lowers ASCII capitals and strips the accents of Latin letters ("ÉVRON", "Évron" and
"evron" all fold to "evron"), one character for one character. The database applies the very
same mapping through the SQL function `pdi_fold`: on PostgreSQL a `translate()` created by a
migration from the two strings below (no extension needed), on SQLite a Python function
registered on each connection. Filters compare `pdi_fold(column)` with `fold(what was asked)`.
"""

import re

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement

# C0 controls but tab, line feed and carriage return; DEL; C1 controls. Refused on input (app/core/
# schemas.py), and taken out of every export: XML (XLSX) cannot carry them at all.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Stored text without the control characters an export cannot carry (rows stored before
    input refused them, or written by another way than the API)."""
    return CONTROL_CHARACTERS.sub("", text)


# Capitals A-Z, then every letter of Latin-1 and Latin Extended-A that is an ASCII letter plus
# accents (NFKD), and what each becomes. The migration that creates `pdi_fold` holds a copy:
# change both together, in a new migration.
FOLD_FROM = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçè"
    "éêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬ"
    "ĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷ"
    "ŸŹźŻżŽž"
)
FOLD_TO = (
    "abcdefghijklmnopqrstuvwxyzaaaaaaceeeeiiiinooooouuuuyaaaaaace"
    "eeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiii"
    "iiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyy"
    "yzzzzzz"
)
_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    return text.translate(_TABLE)


def folded(column) -> ColumnElement[str]:
    """The column as `fold` would write it, computed by the database."""
    return func.pdi_fold(column)


def matches(column, asked: str) -> ColumnElement[bool]:
    """Case- and accent-blind substring search (LIKE wildcards in `asked` are taken literally)."""
    return folded(column).contains(fold(asked), autoescape=True)


def equals(column, asked: str) -> ColumnElement[bool]:
    """Case- and accent-blind equality, ignoring surrounding spaces."""
    return folded(func.trim(column)) == fold(asked.strip())
