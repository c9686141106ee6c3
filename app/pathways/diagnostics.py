"""The diagnostic of a pathway (SPEC C7): Depart'Parcours' written assessment of the person's
assets and barriers over fifteen dimensions, and the actions it recommends, shared through the
RSA portal.

Who: the pathway's operator or an admin write it; they and the portal key that prescribed the
pathway read it; a reader key never (403, as for pathways), another operator or portal key gets
a 404. Every read is audited like a pathway read (who, which pathway; never the content).

It is personal data, and not a kind of the change feed: the feed's pathway items (and webhooks,
which carry them) show the pathway as its GET does, without its diagnostic, so that no one
who may see a pathway in the feed without the diagnostic's rights ever sees it; a client learns
of a diagnostic by reading it. Writing one leaves the pathway (and its ETag) unchanged.
"""

from sqlmodel import Session, select

from app.audit.service import record
from app.catalogue.models import Action
from app.core.bodies import parsed_body
from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match
from app.core.time import today
from app.pathways import access
from app.pathways.models import Diagnostic, Pathway
from app.pathways.schemas import DiagnosticIn, DiagnosticRead
from app.periods.service import ensure_open
from app.reference.diagnostic_dimensions import DIMENSION_CODES

AUDIT_DIAGNOSTIC = "diagnostic"


def get_diagnostic(*, session: Session, caller: Caller, pathway_id: int) -> Diagnostic:
    pathway = access.visible_pathway(session=session, caller=caller, pathway_id=pathway_id)
    diagnostic = session.get(Diagnostic, pathway.id)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_DIAGNOSTIC,
        entity_id=pathway.id,
        action="read",
        details={"rows": 0 if diagnostic is None else 1},
    )
    session.flush()
    if diagnostic is None:
        raise NotFound(f"Pathway {pathway_id} has no diagnostic")
    return diagnostic


def _check(*, session: Session, pathway: Pathway, body: DiagnosticIn) -> None:
    if pathway.entered_on is None:
        raise Conflict(f"Pathway {pathway.id} is {pathway.status}: a diagnostic follows an entry")
    if body.assessed_on > today():
        raise InvalidInput("assessed_on cannot be in the future", loc=["body", "assessed_on"])
    if body.assessed_on < pathway.entered_on:
        raise InvalidInput(
            f"assessed_on cannot be before the entry ({pathway.entered_on})", loc=["body", "assessed_on"]
        )
    codes = {recommendation.action for recommendation in body.recommendations}
    known = set(session.exec(select(Action.code).where(Action.code.in_(sorted(codes)))).all()) if codes else set()
    for index, recommendation in enumerate(body.recommendations):
        if recommendation.action not in known:
            raise InvalidInput(
                f"'{recommendation.action}' is not an action of the catalogue",
                loc=["body", "recommendations", index, "action"],
            )


def put_diagnostic(
    *, session: Session, caller: Caller, pathway_id: int, raw: bytes, if_match: str | None
) -> tuple[Diagnostic, bool]:
    """Store the pathway's diagnostic whole from the request's raw body `raw`; (it, whether it was
    created). The caller's right to the pathway is checked before the body is read (403, 404),
    so that only who may write it hears what is wrong with a body (422). The barrier rates count
    it on `assessed_on`: a consolidated year, old or new, is a 409."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    body = parsed_body(raw, DiagnosticIn)
    diagnostic = session.get(Diagnostic, pathway.id, with_for_update=True, populate_existing=True)
    if diagnostic is not None:
        check_if_match(if_match, DiagnosticRead.model_validate(diagnostic))
    _check(session=session, pathway=pathway, body=body)
    ensure_open(session=session, days=[body.assessed_on, diagnostic.assessed_on if diagnostic else None])
    created = diagnostic is None
    if created:
        diagnostic = Diagnostic(pathway_id=pathway.id, assessed_on=body.assessed_on, created_by_key_id=caller.key_id)
    values = {
        "assessed_on": body.assessed_on,
        **{code: body.dimensions.get(code) for code in DIMENSION_CODES},
        "recommendations": [recommendation.model_dump() for recommendation in body.recommendations],
        "summary": body.summary,
        "erased_at": None,
    }
    written = [name for name, value in values.items() if created or getattr(diagnostic, name) != value]
    for name, value in values.items():
        setattr(diagnostic, name, value)
    session.add(diagnostic)
    if written:
        record(
            session=session,
            caller=caller,
            entity=AUDIT_DIAGNOSTIC,
            entity_id=pathway.id,
            action="create" if created else "update",
            fields=[name for name in written if name != "erased_at"],
        )
    session.flush()
    return diagnostic, created
