"""Bodies of the catalogue: families, actions, operators and their sites."""

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator
from stdnum.fr import siret as stdnum_siret

from app.catalogue.models import ActionFormat, Territory
from app.core.schemas import BoundedText, InputModel, ReadModel, Slug, Timestamp
from app.reference import data_inclusion as di
from app.reference.indicators import INDICATORS_BY_CODE

# Integers are bounded so that no client value overflows a 32-bit database column (a 500).
MAX_NUMBER = 99_999
MAX_POSITION = 10_000
MAX_DURATION_MONTHS = 120


def is_valid_siret(siret: str) -> bool:
    """A SIRET as stored: exactly 14 ASCII digits, whose check key python-stdnum accepts (Luhn,
    and INSEE's other rule for La Poste's establishments, numbered past what Luhn allows).
    stdnum would also take spaces and dots; the API takes the compact form only."""
    return len(siret) == 14 and siret.isascii() and siret.isdigit() and stdnum_siret.is_valid(siret)


def _check_siret(value: str) -> str:
    if not is_valid_siret(value):
        raise ValueError("is not a valid SIRET (14 digits with a valid check key)")
    return value


def _check_indicators(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return codes
    unknown = [code for code in codes if code not in INDICATORS_BY_CODE]
    if unknown:
        raise ValueError(f"unknown indicator code(s): {', '.join(unknown)} (see /reference/indicators)")
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"indicator code(s) listed more than once: {', '.join(repeated)}")
    return codes


Name = BoundedText(200, min_length=1)
Description = BoundedText(5000, multiline=True)
TargetPublic = BoundedText(2000, multiline=True)
Address = BoundedText(300)
Commune = BoundedText(100, min_length=1)
LegalForm = BoundedText(100, min_length=1)
Postcode = BoundedText(5, pattern=r"^[0-9]{5}$")
# A commune's INSEE code: five digits, or 2A/2B and three digits in Corsica.
InseeCode = BoundedText(5, pattern=r"^(?:[0-9]{5}|2[AB][0-9]{3})$")
Siret = Annotated[BoundedText(14, pattern=r"^[0-9]{14}$"), AfterValidator(_check_siret)]
# Plausible, not proven: one @, no spaces, a dot in the domain (email-validator is not installed).
Email = BoundedText(254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Phone = BoundedText(30, pattern=r"^\+?[0-9][0-9 .()-]{5,}$")
Website = BoundedText(300, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#:@]+\.[^\s/?#:@]+(?::[0-9]{1,5})?(?:[/?#]\S*)?$")
Number = Annotated[int, Field(ge=1, le=MAX_NUMBER)]
Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]
DurationMonths = Annotated[int, Field(ge=0, le=MAX_DURATION_MONTHS)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def _not_null(value):
    # Optional in an update means "may be left out", not "may be erased".
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


# --- data·inclusion fields of an action --------------------------------------------------


def _referential_value(referential: str, values: tuple[str, ...]):
    """A string that must be one of a data·inclusion referential's values (vendored, see app/reference)."""
    allowed = frozenset(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not a value of the data·inclusion referential {referential!r}")
        return value

    # The enum in the JSON schema tells clients the values; the message above stays short.
    return Annotated[str, Field(max_length=100, json_schema_extra={"enum": list(values)}), AfterValidator(check)]


def _no_repeats(values: list[str]) -> list[str]:
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"value(s) listed more than once: {', '.join(repeated)}")
    return values


def _referential_list(referential: str, values: tuple[str, ...]):
    """A non-empty list of a referential's values, each once (null, not [], says "not stated")."""
    item = _referential_value(referential, values)
    return Annotated[list[item], Field(min_length=1, max_length=len(values)), AfterValidator(_no_repeats)]


def _tous_publics_alone(publics: list[str]) -> list[str]:
    # The schema's own rule: "tous-publics" means no specific public, so it stands alone.
    if di.TOUS_PUBLICS in publics and len(publics) > 1:
        raise ValueError(f"{di.TOUS_PUBLICS!r} cannot be listed with other publics")
    return publics


Thematiques = _referential_list("thematiques", di.THEMATIQUES)
ServiceType = _referential_value("types", di.TYPES)
Publics = Annotated[_referential_list("publics", di.PUBLICS), AfterValidator(_tous_publics_alone)]
Frais = _referential_value("frais", di.FRAIS)
ModesAccueil = _referential_list("modes_accueil", di.MODES_ACCUEIL)
ModesMobilisation = _referential_list("modes_mobilisation", di.MODES_MOBILISATION)
MobilisablePar = _referential_list("mobilisable_par", di.MOBILISABLE_PAR)
# A code of INSEE's Code officiel géographique, as the schema's zone_eligibilite takes them: a
# commune (5 characters, 2A/2B in Corsica), a département (2 characters, 3 overseas: 971…),
# an EPCI (its 9-digit SIREN), a country (99xxx), or "france".
ZoneCode = BoundedText(9, pattern=r"^(?:[0-9]{5}|2[AB][0-9]{3}|[0-9]{2}|2[AB]|9[78][0-9]|[0-9]{9}|france)$")
ZoneEligibilite = Annotated[list[ZoneCode], Field(min_length=1, max_length=100), AfterValidator(_no_repeats)]


class ActionDataInclusion(InputModel):
    """What the data·inclusion schema says of a service, stored per action (null: not stated)."""

    thematiques: Thematiques | None = None
    type: ServiceType | None = None
    publics: Publics | None = None
    frais: Frais | None = None
    modes_accueil: ModesAccueil | None = None
    modes_mobilisation: ModesMobilisation | None = None
    mobilisable_par: MobilisablePar | None = None
    zone_eligibilite: ZoneEligibilite | None = None


# --- families ---------------------------------------------------------------------------


class FamilyCreate(InputModel):
    code: Slug
    name: Name
    position: Position = 0
    description: Description | None = None


class FamilyUpdate(InputModel):
    code: Slug | None = None
    name: Name | None = None
    position: Position | None = None
    description: Description | None = None

    _required = field_validator("code", "name", "position")(_not_null)


class FamilyRead(ReadModel):
    code: str
    name: str
    position: int
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp


# --- actions ----------------------------------------------------------------------------

# Hours of activity a week (SPEC C11), decimals allowed.
WeeklyHours = Annotated[float, Field(ge=0, le=60, allow_inf_nan=False)]
DurationWeeks = Annotated[int, Field(ge=1, le=520)]
WEEKLY_HOURS_DESCRIPTION = "Typical hours of activity a week (0–60); null when unknown"


class ActionCreate(ActionDataInclusion):
    code: Slug
    number: Number
    family: Slug
    name: Name
    description: Description | None = None
    target_public: TargetPublic | None = None
    min_duration_months: DurationMonths | None = None
    max_duration_months: DurationMonths | None = None
    weekly_hours: WeeklyHours | None = Field(default=None, description=WEEKLY_HOURS_DESCRIPTION)
    duration_weeks: DurationWeeks | None = Field(default=None, description="Typical length in weeks; null when unknown")
    format: ActionFormat | None = None
    indicators: list[str] = Field(default_factory=list, max_length=len(INDICATORS_BY_CODE))

    _indicators = field_validator("indicators")(_check_indicators)


class ActionUpdate(ActionDataInclusion):
    code: Slug | None = None
    number: Number | None = None
    family: Slug | None = None
    name: Name | None = None
    description: Description | None = None
    target_public: TargetPublic | None = None
    min_duration_months: DurationMonths | None = None
    max_duration_months: DurationMonths | None = None
    weekly_hours: WeeklyHours | None = Field(default=None, description=WEEKLY_HOURS_DESCRIPTION)
    duration_weeks: DurationWeeks | None = Field(default=None, description="Typical length in weeks; null when unknown")
    format: ActionFormat | None = None
    indicators: list[str] | None = Field(default=None, max_length=len(INDICATORS_BY_CODE))

    _required = field_validator("code", "number", "family", "name", "indicators")(_not_null)
    _indicators = field_validator("indicators")(_check_indicators)


class ActionRead(ReadModel):
    code: str
    number: int
    family: str  # the family's code
    name: str
    description: str | None
    target_public: str | None
    min_duration_months: int | None
    max_duration_months: int | None
    weekly_hours: float | None = Field(description=WEEKLY_HOURS_DESCRIPTION)
    duration_weeks: int | None
    format: ActionFormat | None
    indicators: list[str]
    thematiques: list[str] | None
    type: str | None
    publics: list[str] | None
    frais: str | None
    modes_accueil: list[str] | None
    modes_mobilisation: list[str] | None
    mobilisable_par: list[str] | None
    zone_eligibilite: list[str] | None
    created_at: Timestamp
    updated_at: Timestamp


# --- operators and sites ----------------------------------------------------------------


class OperatorCreate(InputModel):
    name: Name
    legal_form: LegalForm | None = None
    siret: Siret | None = None
    address: Address | None = None
    postcode: Postcode | None = None
    commune: Commune | None = None
    email: Email | None = None
    phone: Phone | None = None
    website: Website | None = None


class OperatorUpdate(InputModel):
    name: Name | None = None
    legal_form: LegalForm | None = None
    siret: Siret | None = None
    address: Address | None = None
    postcode: Postcode | None = None
    commune: Commune | None = None
    email: Email | None = None
    phone: Phone | None = None
    website: Website | None = None

    _required = field_validator("name")(_not_null)


class OperatorRead(ReadModel):
    id: int
    name: str
    legal_form: str | None
    siret: str | None
    address: str | None
    postcode: str | None
    commune: str | None
    email: str | None
    phone: str | None
    website: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SiteCreate(InputModel):
    name: Name
    address: Address | None = None
    postcode: Postcode | None = None
    commune: Commune
    insee_code: InseeCode | None = None
    territory: Territory | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def coordinates_together(self) -> "SiteCreate":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give latitude and longitude together, or neither")
        return self


class SiteUpdate(InputModel):
    """A site's fields to change (the seed loader's; the API has no route that takes it yet)."""

    name: Name | None = None
    address: Address | None = None
    postcode: Postcode | None = None
    commune: Commune | None = None
    insee_code: InseeCode | None = None
    territory: Territory | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    _required = field_validator("name", "commune")(_not_null)


class SiteRead(ReadModel):
    id: int
    operator_id: int
    name: str
    address: str | None
    postcode: str | None
    commune: str
    insee_code: str | None
    territory: Territory | None
    latitude: float | None
    longitude: float | None
    created_at: Timestamp
    updated_at: Timestamp
