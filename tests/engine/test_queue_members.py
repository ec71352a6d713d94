"""A new queue task's routing and its emails read the role's members once: routing keeps the
active holders it read to decide whether anyone but the requester may work the queue, and the
new-task emails go to those of them with an address, the requester left out of an approval."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import OutboxMessage, TaskRecord, User, UserRole
from engine.people.roles import grant
from engine.people.users import add_user
from tests.engine.test_short_write import statements
from tests.reliability.harness import FLOW_KEY, deploy_flow


def member_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and "FROM users" in s and "user_roles.role =" in s]


def test_routing_and_emails_share_one_read_of_each_queue(people, engine):
    deploy_flow(people, engine)
    with people.transaction() as s:
        add_user(s, "mute", now=engine.clock.now(), roles=["supervisor"], email=None)
        grant(s, "jdoe", "supervisor", actor="admin")
    with statements(people) as seen, people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    assert len(member_reads(seen)) == 2  # the supervisor and finance queues, once each
    with people.reading() as s:
        emailed = sorted(
            s.execute(select(OutboxMessage.task_id, OutboxMessage.user_id).where(OutboxMessage.instance_id == iid))
        )
        holders = sorted(
            (task_id, user_id)
            for task_id, role in s.execute(select(TaskRecord.id, TaskRecord.role).where(TaskRecord.instance_id == iid))
            for user_id, username, email in s.execute(
                select(User.id, User.username, User.email).join(UserRole).where(UserRole.role == role)
            )
            if email and username != "jdoe"
        )
        mute, jdoe = (s.scalar(select(User.id).where(User.username == n)) for n in ("mute", "jdoe"))
    assert emailed == holders and len({task_id for task_id, _ in holders}) == 2  # both queues have addresses
    assert not {mute, jdoe} & {user_id for _, user_id in emailed}
