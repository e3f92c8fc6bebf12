"""Turning people from the Feishu directory into team members: pure rules, no I/O.

A person's role comes from their job title matched against the policy's role names, in
Chinese or English: an exact match first (ignoring case and spaces), else the role whose
name the title contains (the longest such name: "高级市场策划专员" is a 市场策划专员). A title
that matches no role, or two roles equally well, leaves the person out and listed, so an
admin assigns the role by hand. The department's leader becomes an admin."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


class DirectoryError(Exception):
    """The directory could not be read (Feishu's code and message: scope, range, no chat)."""

    def __init__(self, code: int, msg: str) -> None:
        self.code, self.msg = code, msg
        super().__init__(f"Feishu error {code}: {msg}")


class RoleNames(Protocol):
    key: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Person:
    """Someone the directory lists (a department member or a chat member)."""

    open_id: str
    name: str
    job_title: str = ""
    en_name: str = ""


@dataclass(frozen=True)
class Placed:
    person: Person
    role: str  # a policy role key
    admin: bool = False


@dataclass(frozen=True)
class Unplaced:
    person: Person
    reason: str  # "no_title" | "no_match" | "ambiguous"
    candidates: tuple[str, ...] = ()  # role keys, when ambiguous
    leader: bool = False


@dataclass(frozen=True)
class ImportPlan:
    placed: tuple[Placed, ...]
    unplaced: tuple[Unplaced, ...]
    leader_open_id: str | None = None


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def match_role(job_title: str, roles: Iterable[RoleNames]) -> tuple[str | None, tuple[str, ...]]:
    """(role key, ()) for a clear match; (None, candidates) when none or several fit."""
    title = _norm(job_title)
    if not title:
        return None, ()
    roles = list(roles)
    exact = [r.key for r in roles if title in (_norm(r.name_zh), _norm(r.name_en))]
    if len(set(exact)) == 1:
        return exact[0], ()
    best: dict[str, int] = {}
    for r in roles:
        for name in (_norm(r.name_zh), _norm(r.name_en)):
            if name and name in title:
                best[r.key] = max(best.get(r.key, 0), len(name))
    if not best:
        return None, ()
    longest = max(best.values())
    winners = tuple(sorted(k for k, n in best.items() if n == longest))
    return (winners[0], ()) if len(winners) == 1 else (None, winners)


def plan_import(
    people: Iterable[Person], roles: Mapping[str, RoleNames], leader_open_id: str | None = None
) -> ImportPlan:
    """Who joins as what, and who needs a role; each person once, in the order given."""
    placed: list[Placed] = []
    unplaced: list[Unplaced] = []
    seen: set[str] = set()
    for person in people:
        if person.open_id in seen:
            continue
        seen.add(person.open_id)
        leader = person.open_id == leader_open_id
        role, candidates = match_role(person.job_title, roles.values())
        if role is not None:
            placed.append(Placed(person, role, admin=leader))
        else:
            reason = "ambiguous" if candidates else ("no_match" if person.job_title else "no_title")
            unplaced.append(Unplaced(person, reason, candidates, leader))
    return ImportPlan(tuple(placed), tuple(unplaced), leader_open_id)


def describe_unplaced(item: Unplaced, roles: Mapping[str, RoleNames], lang: str = "zh") -> str:
    """Why this person was not added, in the asker's language."""
    title = item.person.job_title
    if item.reason == "ambiguous":
        names = " / ".join(
            (roles[k].name_en if lang == "en" else roles[k].name_zh) for k in item.candidates
        )
        return (
            f"title “{title}” fits several roles: {names}"
            if lang == "en"
            else f"职务“{title}”对应多个角色:{names}"
        )
    if item.reason == "no_match":
        return (
            f"title “{title}” matches no role" if lang == "en" else f"职务“{title}”不对应任何角色"
        )
    return "no job title in the directory" if lang == "en" else "通讯录中没有职务"
