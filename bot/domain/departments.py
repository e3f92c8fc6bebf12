"""Several departments in one deployment: each has its own policy.

A deployment without `[[departments]]` in its team file has one department,
``DEFAULT_DEPARTMENT``, whose policy is the shipped one or ``DUTYBOT_POLICY``: members,
chats and tasks carry that key, and everything behaves as with a single policy. A team
file that declares departments gives each its own policy file; role and duty keys only
need to be unique within a department, so everything that looks a role or duty up does
so in the policy of the member's, chat's or task's department (``Policies.get``).

Pure: built by the composition root (from the settings and the `departments` table) and
by `org sync` (from the team file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.domain.policy import Policy

DEFAULT_DEPARTMENT = "default"
MAX_DEPARTMENT_KEY = 32


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    policy: Policy


class Policies:
    """The policy of every department, by department key. The default department is always
    there (its policy answers for a key nobody declared, e.g. a row written before the
    department was removed from the team file)."""

    def __init__(self, default: Policy, departments: tuple[Department, ...] = ()) -> None:
        self._by_key: dict[str, Department] = {
            DEFAULT_DEPARTMENT: Department(DEFAULT_DEPARTMENT, default.name, default)
        }
        for dept in departments:
            self._by_key[dept.key] = dept
        self.declared = tuple(d.key for d in departments)

    @classmethod
    def single(cls, policy: Policy) -> Policies:
        return cls(policy)

    @property
    def default(self) -> Policy:
        return self._by_key[DEFAULT_DEPARTMENT].policy

    @property
    def is_single(self) -> bool:
        """No departments declared: one policy for everyone (the behaviour before
        departments, with no department filters anywhere)."""
        return not self.declared

    def get(self, key: str | None) -> Policy:
        dept = self._by_key.get(key or DEFAULT_DEPARTMENT)
        return (dept or self._by_key[DEFAULT_DEPARTMENT]).policy

    def department(self, key: str | None) -> Department:
        return self._by_key.get(key or DEFAULT_DEPARTMENT) or self._by_key[DEFAULT_DEPARTMENT]

    def keys(self) -> tuple[str, ...]:
        """Every department the deployment runs: the default one first, then the declared
        ones in their file order."""
        return tuple(self._by_key)

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return len(self._by_key)
