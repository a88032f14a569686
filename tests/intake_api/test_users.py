"""intake_api.users and intake_api.tokens: the account changes the admin console makes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intake_api.models import User
from intake_api.tokens import issue_token, revoke_token, user_for_token
from intake_api.users import (
    LastAdmin,
    UserError,
    check_agency,
    create_user,
    parse_roles,
    set_active,
    update_user,
)
from tests.intake_api.conftest import Api

AGENCIES = ["police", "dolisa", "border_guard"]


def test_roles_are_parsed_once_for_every_caller() -> None:
    assert parse_roles(["police", "operator", "police"]) == ["operator", "police"]
    with pytest.raises(UserError, match="unknown role"):
        parse_roles(["chief"])
    with pytest.raises(UserError, match="at least one role"):
        parse_roles([])


def test_an_account_names_only_a_configured_agency() -> None:
    check_agency(None, AGENCIES)
    check_agency("dolisa", AGENCIES)
    with pytest.raises(UserError, match="unknown agency 'fbi'"):
        check_agency("fbi", AGENCIES)


def test_update_user_sets_roles_agency_and_name(api: Api) -> None:
    with Session(api.engine) as session:
        user = update_user(session, " Police ", ["dolisa", "supervisor"], "dolisa", AGENCIES, "Hà")
        assert (user.roles, user.agency, user.full_name) == ("dolisa,supervisor", "dolisa", "Hà")
        for roles, agency, message in [
            ([], None, "at least one role"),
            (["police"], "nowhere", "unknown agency"),
        ]:
            with pytest.raises(UserError, match=message):
                update_user(session, "police", roles, agency, AGENCIES)
        with pytest.raises(UserError, match="no user named"):
            update_user(session, "ghost", ["police"], None, AGENCIES)
        kept = session.exec(select(User).where(User.username == "police")).one()
        assert kept.roles == "dolisa,supervisor"


def test_a_revoked_token_opens_nothing(api: Api) -> None:
    with Session(api.engine) as session:
        user = session.exec(select(User).where(User.username == "operator")).one()
        token = issue_token(session, user, timedelta(hours=1))
        assert user_for_token(session, token) is not None
        assert revoke_token(session, token) is True
        assert user_for_token(session, token) is None
        assert revoke_token(session, "hl_never-issued") is False
    assert (
        api.client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_no_change_leaves_no_active_admin(api: Api) -> None:
    # The console could not be run without an admin: disabling the last one (say from the
    # command line, which is not an admin acting on themselves) or taking its admin role is
    # refused, and nothing changes; with another active admin both are allowed.
    with Session(api.engine) as session:
        with pytest.raises(LastAdmin, match="last active admin"):
            set_active(session, "admin", False, actor="cli")
        with pytest.raises(LastAdmin, match="last active admin"):
            update_user(session, "admin", ["supervisor"], None, AGENCIES)
        kept = session.exec(select(User).where(User.username == "admin")).one()
        assert kept.active and kept.roles == "admin"
        create_user(session, "second.admin", "a-long-enough-password", ["admin"])
        set_active(session, "second.admin", False, actor="cli")  # a disabled admin counts not
        with pytest.raises(LastAdmin):
            set_active(session, "admin", False, actor="cli")
        set_active(session, "second.admin", True, actor="cli")
        assert update_user(session, "admin", ["supervisor"], None, AGENCIES).roles == "supervisor"
        assert not set_active(session, "police", False, actor="cli").active  # not an admin
