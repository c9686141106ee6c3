"""The SIRET check on its own: Luhn, and La Poste's exception."""

from hypothesis import given
from hypothesis import strategies as st

from app.catalogue.schemas import is_valid_siret


def luhn_valid(number: str) -> bool:
    """The textbook Luhn check, written independently of the one under test."""
    total = 0
    for position, char in enumerate(number[::-1], start=1):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return total % 10 == 0


def test_known_sirets():
    assert is_valid_siret("73282932000074")  # INSEE's example
    assert is_valid_siret("35600000000048")  # La Poste's head office, Luhn-valid
    assert not is_valid_siret("73282932000075")
    assert not is_valid_siret("7328293200007")
    assert not is_valid_siret("732829320000740")
    assert not is_valid_siret("7328293200007x")
    assert not is_valid_siret("")
    assert not is_valid_siret("٧٣٢٨٢٩٣٢٠٠٠٠٧٤")  # Arabic-Indic digits are digits to Python, not to INSEE


def test_la_poste_establishments_use_the_sum_of_digits():
    number = "35600000049837"
    assert not luhn_valid(number) and sum(map(int, number)) % 5 == 0
    assert is_valid_siret(number)
    assert not is_valid_siret("35600000049838")
    # The exception is La Poste's alone: the same rule does not save another SIREN.
    other = "35600001049836"
    assert not luhn_valid(other) and sum(map(int, other)) % 5 == 0
    assert not is_valid_siret(other)


fourteen_digits = st.text(alphabet="0123456789", min_size=14, max_size=14)


@given(fourteen_digits)
def test_outside_la_poste_valid_means_luhn_valid(number):
    """A SIRET is its SIREN (9 digits, a Luhn number itself) and a NIC, the whole Luhn-valid."""
    if not number.startswith("356000000"):
        assert is_valid_siret(number) == (luhn_valid(number) and luhn_valid(number[:9]))


def with_check_digit(digits: str) -> str:
    return next(digits + key for key in "0123456789" if luhn_valid(digits + key))


def siret_of(first_8: str, nic_4: str) -> str:
    return with_check_digit(with_check_digit(first_8) + nic_4)


digits = st.text(alphabet="0123456789", min_size=8, max_size=8)
luhn_valid_sirets = st.builds(siret_of, digits, st.text(alphabet="0123456789", min_size=4, max_size=4))


@given(luhn_valid_sirets, st.integers(0, 13), st.integers(1, 9))
def test_one_wrong_digit_is_caught(number, position, shift):
    assert is_valid_siret(number)
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    if not wrong.startswith("356000000"):
        assert not is_valid_siret(wrong)
