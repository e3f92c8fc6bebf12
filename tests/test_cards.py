"""Card builders and the Card JSON 2.0 validator (pure: no I/O)."""

from __future__ import annotations

import copy
import html
import json
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cards.due import MAX_TASKS, build_due_card, group_tasks
from cards.elements import (
    CARD_BUDGET_BYTES,
    button,
    card,
    card_size,
    escape_md,
    fit_card,
    markdown,
    md_text,
    truncate,
)
from cards.help import build_help_card
from cards.i18n import format_day_time, norm_lang
from cards.notice import build_not_on_team_card, build_notice_card
from cards.schema import CARD_MAX_BYTES, count_elements, mentions_all, validate_card
from cards.views import DueView, MemberView, TaskView
from cards.whoami import build_whoami_card

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=CST)  # Thursday

INJECTIONS = (
    "<at id=all></at>",
    "[x](https://evil.example)",
    "**✅ Approved**",
    "<font color='red'>x</font>",
)
EVIL = " ".join(INJECTIONS)
HUGE = "名" * 14_000  # ~41 KB of UTF-8


# -- helpers ---------------------------------------------------------------------------


def member(name: str = "Alice", **kw) -> MemberView:
    kw.setdefault("role_name", "市场专员")
    return MemberView(open_id="ou_alice", name=name, role_key="specialist", **kw)


def task(task_id: int, due: datetime, status: str = "open", **kw) -> TaskView:
    kw.setdefault("duty_name", f"Duty {task_id}")
    kw.setdefault("clause", f"§{task_id} do the thing")
    return TaskView(task_id=task_id, duty_key=f"d{task_id}", due_at=due, status=status, **kw)


def due_view(tasks=(), name="Alice", **kw) -> DueView:
    return DueView(member=member(name), now=NOW, tasks=tuple(tasks), **kw)


def at(day: int, hour: int = 18, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


def walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def markdown_texts(c: dict) -> list[str]:
    """Every string Feishu would interpret as markup."""
    return [
        n["content"]
        for n in walk(c)
        if n.get("tag") in ("markdown", "lark_md") and isinstance(n.get("content"), str)
    ]


def plain_texts(c: dict) -> list[str]:
    return [n["content"] for n in walk(c) if n.get("tag") == "plain_text"]


def all_text(c: dict) -> str:
    return "\n".join(markdown_texts(c) + plain_texts(c) + [c["config"]["summary"]["content"]])


def rendered(md: str) -> str:
    """What a CommonMark renderer shows for escaped text (backslash escapes, entities)."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md))


def builders(name: str = "Alice", clause: str = "§1 do it", chat: str = "Team") -> dict[str, dict]:
    m = member(name, manager_name=name, is_admin=True)
    view = DueView(
        member=m,
        now=NOW,
        tasks=(
            task(1, at(25), clause=clause, duty_name=name, activity_title=name, period_label=name),
            task(2, at(26), "rejected", clause=clause),
            task(3, at(27), "submitted", clause=clause),
            task(4, at(3, month=12), clause=clause),
        ),
    )
    cards_ = {}
    for lang in ("zh", "en"):
        cards_[f"due-{lang}"] = build_due_card(view, lang)
        cards_[f"due-empty-{lang}"] = build_due_card(due_view(name=name), lang)
        cards_[f"help-{lang}"] = build_help_card(lang, is_member=True, is_admin=True)
        cards_[f"help-guest-{lang}"] = build_help_card(lang, is_member=False, is_admin=False)
        cards_[f"whoami-{lang}"] = build_whoami_card(
            m, lang, team_chats=[chat, "Ops"], reports_to_label=name
        )
        cards_[f"not-on-team-{lang}"] = build_not_on_team_card(name, [m, member("Bob")], lang)
        cards_[f"notice-{lang}"] = build_notice_card(name, clause, lang, template="red")
    return cards_


def valid_card() -> dict:
    """A hand-written card exercising forms, columns and buttons; must validate clean."""
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": "s"}},
        "header": {
            "title": {"tag": "plain_text", "content": "Report"},
            "template": "orange",
            "text_tag_list": [
                {
                    "tag": "text_tag",
                    "text": {"tag": "plain_text", "content": "New"},
                    "color": "blue",
                }
            ],
        },
        "body": {
            "elements": [
                {"tag": "markdown", "content": "**hi** <at id=ou_1></at>"},
                {
                    "tag": "column_set",
                    "columns": [
                        {
                            "tag": "column",
                            "elements": [
                                {
                                    "tag": "button",
                                    "text": {"tag": "plain_text", "content": "OK"},
                                    "type": "primary",
                                    "behaviors": [{"type": "callback", "value": {"a": "ok"}}],
                                }
                            ],
                        }
                    ],
                },
                {
                    "tag": "form",
                    "name": "report_form",
                    "elements": [
                        {"tag": "input", "name": "summary"},
                        {"tag": "select_person", "name": "owner"},
                        {
                            "tag": "column_set",
                            "columns": [
                                {
                                    "tag": "column",
                                    "elements": [
                                        {
                                            "tag": "button",
                                            "name": "submit",
                                            "form_action_type": "submit",
                                            "text": {"tag": "plain_text", "content": "Send"},
                                        }
                                    ],
                                }
                            ],
                        },
                    ],
                },
            ]
        },
    }


def errors_of(c: dict) -> str:
    return "\n".join(validate_card(c))


# -- every builder ----------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(builders()))
def test_every_builder_output_is_valid_card_json_2(key):
    c = builders()[key]
    assert validate_card(c) == []
    assert c["schema"] == "2.0"
    assert c["config"]["update_multi"] is True
    assert c["config"]["width_mode"] == "fill"
    assert c["config"]["summary"]["content"]
    assert c["header"]["title"]["tag"] == "plain_text"
    assert c["header"]["title"]["content"]
    assert c["body"]["elements"]


def test_validator_accepts_the_reference_card():
    assert validate_card(valid_card()) == []


ESCAPED = {
    "<at id=all></at>": "&lt;at id=all&gt;&lt;/at&gt;",
    "[x](https://evil.example)": "\\[x\\](https://evil.example)",
    "**✅ Approved**": "\\*\\*✅ Approved\\*\\*",
    "<font color='red'>x</font>": "&lt;font color='red'&gt;x&lt;/font&gt;",
}


@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize("key", sorted(builders()))
def test_injection_never_becomes_live_markup(key, evil):
    c = builders(evil, evil, evil)[key]
    assert validate_card(c) == []  # in particular: no @all
    for md in markdown_texts(c):
        assert "<at" not in md
        assert not re.search(r"(?<!\\)\]\(", md)  # no live link
        assert "**✅" not in md
        assert "<font color='red'>x" not in md
    md = "\n".join(markdown_texts(c))
    if not key.startswith(("help", "notice", "due-empty")):
        # the text is still shown, escaped (help has no user text; notices and the
        # empty due card show it only as plain text)
        assert ESCAPED[evil] in md


def test_injected_text_is_visible_somewhere_in_each_card():
    for key, c in builders(EVIL, EVIL, EVIL).items():
        if key.startswith("help"):
            continue  # the help card shows no user text
        texts = [rendered(t) for t in markdown_texts(c)] + plain_texts(c)
        # markdown shows it through entities; plain text through the look-alike "＜"
        assert any("<at id=all></at>" in t or "＜at id=all>＜/at>" in t for t in texts), key
        assert not any("<at" in t for t in plain_texts(c)), key  # Feishu parses it there too


def test_due_card_shows_clause_and_names_escaped():
    c = build_due_card(due_view([task(1, at(27), clause=EVIL, duty_name=EVIL)], name=EVIL), "en")
    md = "\n".join(markdown_texts(c))
    assert "&lt;at id=all&gt;" in md
    assert "Policy: &lt;at id=all&gt;" in md
    # the header is plain text, where Feishu parses <at> too: the tag is broken there
    assert c["header"]["title"]["content"].startswith("What's due · ＜at id=all>＜/at>")


@pytest.mark.parametrize("key", sorted(builders(HUGE, HUGE, HUGE)))
def test_40kb_name_and_clause_still_fit(key):
    c = builders(HUGE, HUGE, HUGE)[key]
    assert len(HUGE.encode()) > 40_000
    size = len(json.dumps(c, ensure_ascii=False).encode("utf-8"))
    assert size <= CARD_MAX_BYTES
    assert validate_card(c) == []


def test_many_huge_tasks_fit_and_report_the_rest():
    worst = "&<>*" * 10_000  # maximal escaping expansion
    tasks = [
        task(i, at(27) + timedelta(minutes=i), duty_name=worst, clause=worst, activity_title=worst)
        for i in range(60)
    ]
    c = build_due_card(due_view(tasks, name=worst), "en")
    assert card_size(c) <= CARD_BUDGET_BYTES
    assert validate_card(c) == []
    shown = sum(1 for t in markdown_texts(c) if t.startswith("**"))
    assert 0 < shown <= MAX_TASKS
    assert f"{60 - shown} more not shown." in all_text(c)


def test_the_element_limit_counts_text_objects_as_feishu_does():
    buttons = [button(f"b{i}", {"a": "x", "i": i}) for i in range(120)]
    c = card(title="t", summary="s", elements=buttons)
    assert count_elements(c["body"]) == 240  # each button and its plain_text label
    assert any("at most 200 elements" in e for e in validate_card(c))
    fitted = fit_card(c, keep_tail=0)
    assert count_elements(fitted["body"]) <= 200
    assert validate_card(fitted) == []


def test_a_long_due_list_stays_within_the_element_limit():
    tasks = [task(i, at(27) + timedelta(minutes=i)) for i in range(500)]
    for lang in ("zh", "en"):
        c = build_due_card(due_view(tasks), lang)
        assert count_elements(c["body"]) <= 200
        assert validate_card(c) == []
        assert "more not shown" in all_text(c) or "未显示" in all_text(c)


# -- escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<at id=all></at>", "&lt;at id=all&gt;&lt;/at&gt;"),
        ("[x](https://evil.example)", "\\[x\\](https://evil.example)"),
        ("**✅ Approved**", "\\*\\*✅ Approved\\*\\*"),
        ("<font color='red'>x</font>", "&lt;font color='red'&gt;x&lt;/font&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        ("~~gone~~ `code` _it_", "\\~\\~gone\\~\\~ \\`code\\` \\_it\\_"),
        ("# Title", "\\# Title"),
        ("  - item\n+ two\n1. three", "  \\- item\n\\+ two\n1\\. three"),
        ("2026-11-27 a-b #tag", "2026-11-27 a-b #tag"),
        ("C:\\path", "C:\\\\path"),
        ("x\u202eevil\x00", "xevil"),
    ],
)
def test_escape_md(raw, escaped):
    assert escape_md(raw) == escaped


def test_escaped_text_round_trips_visually():
    alphabet = "ab 中<>&*_~`[]()!|#+-=.\\$:/'\"\n1"
    rng = random.Random(7)
    samples = list(INJECTIONS) + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(500)
    ]
    for s in samples:
        out = escape_md(s)
        assert rendered(out) == s
        assert "<" not in out and ">" not in out
        # every remaining markdown metacharacter is backslash-escaped
        for m in re.finditer(r"[*_~`\[\]|]", out):
            preceding = re.search(r"\\*$", out[: m.start()]).group()
            assert len(preceding) % 2 == 1, (s, out)


def test_truncate():
    assert truncate("hello", 10) == "hello"
    assert truncate("hello world", 6) == "hello…"
    assert len(truncate("x" * 100, 80)) == 80
    assert truncate("x" * 100, 80).endswith("…")
    assert truncate("abc", 1) == "…"
    assert truncate("abc", 0) == ""
    assert truncate("名" * 5, 5) == "名" * 5


def test_md_text_is_one_line_truncated_then_escaped():
    out = md_text("a\n\n# b " + "<" * 100, 10)
    assert "\n" not in out
    assert rendered(out) == "a # b <<<…"


def test_fit_card_shrinks_and_keeps_the_tail():
    body = [markdown("x" * 1000) for _ in range(60)] + [button("Go", {"a": "go"})]
    c = card(title="t", summary="s", elements=body)
    assert card_size(c) > 50_000
    fit_card(c, max_bytes=10_000, keep_tail=1, overflow_text="(cut)")
    assert card_size(c) <= 10_000
    assert c["body"]["elements"][-1]["tag"] == "button"
    assert c["body"]["elements"][-2]["text"]["content"] == "(cut)"
    assert validate_card(c) == []


def test_fit_card_leaves_small_cards_alone():
    c = card(title="t", summary="s", elements=[markdown("hi")])
    before = copy.deepcopy(c)
    assert fit_card(c) == before


def test_button_refuses_a_string_value():
    with pytest.raises(TypeError):
        button("Go", "due.refresh")  # type: ignore[arg-type]


# -- due card: grouping, labels, colours -----------------------------------------------------


def grouping_tasks():
    return [
        task(1, at(25, 18), "open"),  # yesterday -> overdue
        task(2, at(26, 9), "rejected"),  # earlier today, rejected -> overdue
        task(3, at(26, 9), "submitted"),  # earlier today, submitted -> waiting
        task(4, at(26, 18), "open"),  # later today -> today
        task(5, datetime(2026, 11, 26, 2, 30, tzinfo=UTC)),  # 10:30 CST -> today
        task(6, at(27, 18), "submitted"),  # Fri -> this week
        task(7, at(29, 23, 59)),  # Sun -> this week
        task(8, datetime(2026, 11, 26, 17, 0, tzinfo=UTC)),  # Fri 01:00 CST -> this week
        task(9, at(30, 0, 0)),  # next Monday -> later
        task(10, at(1, month=12)),  # later
        task(11, at(20), "done"),  # closed -> dropped
        task(12, at(27), "approved"),
        task(13, at(27), "cancelled"),
        task(14, at(23), "submitted"),  # long past, submitted -> waiting
    ]


def test_grouping_by_overdue_today_week_later():
    groups = group_tasks(due_view(grouping_tasks()))
    ids = {k: [t.task_id for t in v] for k, v in groups.items()}
    assert ids == {
        "overdue": [1, 2],
        "today": [5, 4],
        "week": [8, 6, 7],
        "later": [9, 10],
        "waiting": [14, 3],
    }


def test_grouping_uses_the_team_time_zone_not_utc():
    # 2026-11-25 17:00 UTC is Thu 01:00 in Shanghai (today), but Wed in UTC.
    t = task(1, datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    view = due_view([t], timezone="Asia/Shanghai")
    assert [x.task_id for x in group_tasks(view)["overdue"]] == [1]
    later = task(2, datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # Thu 23:00 CST
    assert [x.task_id for x in group_tasks(due_view([later]))["today"]] == [2]


def test_due_card_sections_and_counts_zh():
    c = build_due_card(due_view(grouping_tasks()), "zh")
    md = markdown_texts(c)
    headings = [t for t in md if t.startswith("<font")]
    assert headings == [
        "<font color='red'>**已逾期（2）**</font>",
        "<font color='orange'>**今天到期（2）**</font>",
        "<font color='blue'>**本周稍后（3）**</font>",
        "<font color='grey'>**以后（2）**</font>",
        "<font color='grey'>**已提交 · 等待审批（2）**</font>",
    ]
    assert c["header"]["title"]["content"] == "待办 · Alice"
    assert c["header"]["subtitle"]["content"] == "市场专员"
    assert c["header"]["template"] == "red"
    assert (
        c["config"]["summary"]["content"] == "2 项逾期，今天 2 项，本周 3 项，以后 2 项，2 项待审批"
    )
    text = "\n".join(md)
    assert "被退回 · 需重做" in text
    assert "待审批" in text
    assert "截止：11-27 周五 18:00" in text
    assert "逾期 16 小时" in text  # task 1: Wed 18:00 -> Thu 10:00
    assert "Due" not in text and "Overdue" not in text


def test_due_card_sections_and_counts_en():
    c = build_due_card(due_view(grouping_tasks()), "en")
    text = "\n".join(markdown_texts(c))
    for label in ("Overdue (2)", "Due today (2)", "Later this week (3)", "Later (2)"):
        assert f"**{label}**" in text
    assert "Due: Fri 27 Nov 18:00" in text
    assert "Rejected · needs redo" in text
    assert "Waiting for approval" in text
    assert "16 h overdue" in text
    assert c["header"]["title"]["content"] == "What's due · Alice"
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("市场专员", ""))


def test_due_card_task_details():
    t = task(
        7,
        at(27, 18),
        "open",
        duty_name="周报",
        clause="第三条：每周五 18:00 前提交周报" + "很长" * 100,
        period_label="2026-W48",
        activity_title="双十一复盘",
    )
    c = build_due_card(due_view([t]), "zh")
    (item,) = [x for x in markdown_texts(c) if x.startswith("**周报")]
    assert "11-27 周五 18:00" in item
    assert "2026-W48" in rendered(item)
    assert "双十一复盘" in item
    clause_line = item.splitlines()[-1]
    shown_clause = rendered(re.sub(r"</?font[^>]*>", "", clause_line)).removeprefix("依据：")
    assert shown_clause.endswith("…")
    assert len(shown_clause) <= 80


def test_due_dates_in_other_years_show_the_year():
    assert format_day_time(datetime(2027, 1, 5, 9, 0, tzinfo=CST), "zh", ref=NOW) == (
        "2027-01-05 周二 09:00"
    )
    assert format_day_time(datetime(2027, 1, 5, 9, 0, tzinfo=CST), "en", ref=NOW) == (
        "Tue 5 Jan 2027 09:00"
    )
    assert format_day_time(at(27), "en", ref=NOW) == "Fri 27 Nov 18:00"


@pytest.mark.parametrize(
    ("tasks", "template"),
    [
        ([task(1, at(25))], "red"),
        ([task(1, at(26, 18)), task(2, at(27))], "orange"),
        ([task(1, at(26, 18), "submitted")], "blue"),
        ([task(1, at(28))], "blue"),
        ([task(1, at(1, month=12))], "blue"),
        ([], "green"),
        ([task(1, at(20), "done")], "green"),
    ],
)
def test_due_header_colour(tasks, template):
    assert build_due_card(due_view(tasks), "en")["header"]["template"] == template


def test_due_summary_is_short_plain_text():
    tasks = [task(1, at(25)), task(2, at(24)), task(3, at(26, 18))]
    c = build_due_card(due_view(tasks), "en")
    assert c["config"]["summary"]["content"] == "2 overdue, 1 due today"
    assert [t["text"]["content"] for t in c["header"]["text_tag_list"]] == ["2 overdue", "1 today"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_empty_due_card_is_friendly(lang):
    c = build_due_card(due_view([task(1, at(20), "done")]), lang)
    text = all_text(c)
    assert ("没有待办" if lang == "zh" else "Nothing due") in text
    assert c["config"]["summary"]["content"] == ("没有待办" if lang == "zh" else "Nothing due")
    assert validate_card(c) == []


def test_long_lists_are_capped():
    tasks = [task(i, at(28) + timedelta(minutes=i)) for i in range(45)]
    c = build_due_card(due_view(tasks), "zh")
    shown = [t for t in markdown_texts(c) if t.startswith("**Duty")]
    assert len(shown) == MAX_TASKS == 30
    assert "还有 15 项未显示。" in all_text(c)
    assert "**本周稍后（45）**" in all_text(c)  # the heading counts all of them
    assert len(json.dumps(c, ensure_ascii=False).encode()) <= CARD_BUDGET_BYTES


def test_refresh_button_has_an_object_value():
    c = build_due_card(due_view([task(1, at(27))]), "en")
    buttons = [n for n in walk(c) if n.get("tag") == "button"]
    assert len(buttons) == 1
    assert buttons[0]["behaviors"] == [
        {"type": "callback", "value": {"a": "due.refresh", "v": 1, "o": "ou_alice", "l": "en"}}
    ]
    assert buttons[0]["text"]["content"] == "Refresh"


def test_due_scopes_filter_groups():
    tasks = grouping_tasks()
    week = build_due_card(due_view(tasks, scope="week"), "en")
    assert "Later (" not in all_text(week)
    assert week["header"]["title"]["content"] == "Due this week · Alice"
    overdue = build_due_card(due_view(tasks, scope="overdue"), "en")
    assert overdue["config"]["summary"]["content"] == "2 overdue"
    (btn,) = [n for n in walk(overdue) if n.get("tag") == "button"]
    assert btn["behaviors"][0]["value"] == {
        "a": "due.refresh",
        "v": 1,
        "o": "ou_alice",
        "l": "en",
        "scope": "overdue",
    }
    nothing = build_due_card(due_view([task(1, at(28))], scope="overdue"), "en")
    assert "Nothing is overdue" in all_text(nothing)


def test_norm_lang():
    assert norm_lang("zh_cn") == "zh"
    assert norm_lang("en_US") == "en"
    assert norm_lang("fr") == "zh"
    assert norm_lang(None) == "zh"


# -- help, whoami, notices ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_help_lists_commands_in_both_languages(lang):
    c = build_help_card(lang, is_member=True, is_admin=False)
    text = all_text(c)
    for phrase in ("待办", "我的任务", "本周", "逾期", "what's due", "todo", "overdue"):
        assert f"`{phrase}`" in text
    for phrase in ("我是谁", "whoami", "帮助", "help"):
        assert f"`{phrase}`" in text
    assert ("@机器人" if lang == "zh" else "@-mention the bot") in text
    assert "dutybot org sync" not in text
    assert c["header"]["title"]["content"] == ("DutyBot 帮助" if lang == "zh" else "DutyBot help")


def test_help_for_admins_and_guests():
    admin = all_text(build_help_card("en", is_member=True, is_admin=True))
    assert "dutybot org sync" in admin
    guest = all_text(build_help_card("zh", is_member=False, is_admin=False))
    assert "你还不在团队名单中" in guest
    member_text = all_text(build_help_card("zh", is_member=True, is_admin=False))
    assert "你还不在团队名单中" not in member_text


def test_whoami_shows_role_approver_admin_and_chats():
    m = member("Alice", manager_name="Bob", manager_open_id="ou_bob", is_admin=True)
    c = build_whoami_card(m, "en", team_chats=["Marketing", "Ops"], reports_to_label="Director")
    text = all_text(c)
    assert "**Role**: 市场专员" in text
    assert "**Reports approved by**: Bob (Director)" in text
    assert "**Admin**: Yes" in text
    assert "**Team chats**: Marketing, Ops" in text
    assert c["header"]["title"]["content"] == "Who am I · Alice"
    assert c["header"]["text_tag_list"][0]["text"]["content"] == "Admin"
    assert validate_card(c) == []


def test_whoami_zh_without_manager_or_chats():
    c = build_whoami_card(member("张三"), "zh", team_chats=[], reports_to_label=None)
    text = all_text(c)
    assert "**审批人**：无" in text
    assert "**管理员**：否" in text
    assert "**团队群**：暂无" in text
    assert "text_tag_list" not in c["header"]


def test_whoami_caps_the_chat_list():
    chats = [f"Chat {i}" for i in range(25)]
    c = build_whoami_card(member(), "en", team_chats=chats, reports_to_label=None)
    text = all_text(c)
    assert "Chat 9" in text and "Chat 10" not in text
    assert "+15 more" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_not_on_team_lists_admins(lang):
    admins = [member("Carol <b>"), member("Dan")]
    c = build_not_on_team_card("Eve", admins, lang)
    text = "\n".join(markdown_texts(c))
    assert "- Carol &lt;b&gt;" in text
    assert "- Dan" in text
    assert "Eve" in text
    assert validate_card(c) == []


def test_not_on_team_without_admins_or_name():
    c = build_not_on_team_card(None, [], "en")
    text = all_text(c)
    assert "Hi!" in text
    assert "ask your department's admin" in text
    many = build_not_on_team_card("x", [member(f"A{i}") for i in range(14)], "en")
    assert "…and 4 more admins" in all_text(many)


def test_notice_is_plain_text_and_checks_template():
    c = build_notice_card("Oops <at id=all></at>", "**bold** [x](y)\nline 2", "en", "red")
    assert c["header"]["template"] == "red"
    assert markdown_texts(c) == []
    assert "**bold** [x](y)\nline 2" in plain_texts(c)
    assert build_notice_card("t", "x", "zh", template="pink")["header"]["template"] == "blue"
    assert validate_card(c) == []


def test_cards_package_is_pure():
    code = (
        "import sys, cards, cards.due, cards.help, cards.whoami, cards.notice, cards.schema;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('aiohttp', 'lark_oapi', 'storage', 'sqlmodel', 'sqlalchemy', 'httpx', 'requests')"
        " or m == 'bot.feishu.gateway'];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the validator catches what it claims to ------------------------------------------------


def mutate(fn) -> dict:
    c = valid_card()
    fn(c)
    return c


def first_button(c: dict) -> dict:
    return c["body"]["elements"][1]["columns"][0]["elements"][0]


def form_of(c: dict) -> dict:
    return c["body"]["elements"][2]


CASES = {
    "string callback value": (
        lambda c: first_button(c)["behaviors"][0].__setitem__("value", "approve"),
        "callback value must be an object",
    ),
    "string button value (1.0 style)": (
        lambda c: first_button(c).__setitem__("value", "approve"),
        "button value must be an object",
    ),
    "missing form component name": (
        lambda c: form_of(c)["elements"][0].pop("name"),
        "needs a non-empty name",
    ),
    "empty form component name": (
        lambda c: form_of(c)["elements"][1].__setitem__("name", ""),
        "needs a non-empty name",
    ),
    "duplicate names": (
        lambda c: form_of(c)["elements"][1].__setitem__("name", "summary"),
        "duplicate name 'summary'",
    ),
    "form without submit": (
        lambda c: form_of(c)["elements"].pop(),
        'needs a button with form_action_type "submit"',
    ),
    "form not at root": (
        lambda c: c["body"]["elements"][1]["columns"][0]["elements"].append(
            copy.deepcopy(form_of(valid_card())) | {"name": "f2"}
        ),
        "must sit at the body root",
    ),
    "nested form": (
        lambda c: form_of(c)["elements"].insert(
            0,
            {
                "tag": "form",
                "name": "inner",
                "elements": [
                    {
                        "tag": "button",
                        "name": "b2",
                        "form_action_type": "submit",
                        "text": {"tag": "plain_text", "content": "x"},
                    }
                ],
            },
        ),
        "forms cannot be nested",
    ),
    "unknown tag": (
        lambda c: c["body"]["elements"].append({"tag": "marquee"}),
        "unknown tag 'marquee'",
    ),
    "note is 1.0": (
        lambda c: c["body"]["elements"].append({"tag": "note", "elements": []}),
        "'note' is a JSON 1.0 element",
    ),
    "1.0 action module": (
        lambda c: c["body"]["elements"].append(
            {"tag": "action", "actions": [first_button(valid_card())]}
        ),
        "'action' module",
    ),
    "1.0 top-level elements": (
        lambda c: c.__setitem__("elements", []),
        "JSON 1.0 property",
    ),
    "bad header colour": (
        lambda c: c["header"].__setitem__("template", "pink"),
        "unknown colour 'pink'",
    ),
    "hex header colour": (
        lambda c: c["header"].__setitem__("template", "#ff0000"),
        "header.template",
    ),
    "header title markdown": (
        lambda c: c["header"]["title"].__setitem__("tag", "lark_md"),
        "header.title.tag",
    ),
    "four header tags": (
        lambda c: c["header"]["text_tag_list"].extend(c["header"]["text_tag_list"] * 3),
        "at most 3 tags",
    ),
    "update_multi false": (
        lambda c: c["config"].__setitem__("update_multi", False),
        "only true is allowed",
    ),
    "schema 1.0": (lambda c: c.__setitem__("schema", "1.0"), 'must be "2.0"'),
    "no body": (lambda c: c.pop("body"), "body"),
    "oversize card": (
        lambda c: c["body"]["elements"].append({"tag": "markdown", "content": "名" * 11_000}),
        "exceeds the 30720-byte limit",
    ),
    "too many elements": (
        lambda c: c["body"]["elements"].extend({"tag": "hr"} for _ in range(200)),
        "at most 200 elements",
    ),
    "too deep": (
        lambda c: c["body"]["elements"].append(
            _nest({"tag": "markdown", "content": "deep"}, levels=6)
        ),
        "nested deeper than 5",
    ),
    "@all in markdown": (
        lambda c: c["body"]["elements"].append(
            {"tag": "markdown", "content": "hey <at id=all></at>"}
        ),
        "mentions @all",
    ),
    "@all via user_id in lark_md": (
        lambda c: c["body"]["elements"].append(
            {"tag": "div", "text": {"tag": "lark_md", "content": '<AT user_id="all"></AT>'}}
        ),
        "mentions @all",
    ),
    "@all in i18n content": (
        lambda c: c["body"]["elements"].append(
            {"tag": "markdown", "content": "x", "i18n_content": {"en_us": "<at ids=ou_1,all></at>"}}
        ),
        "mentions @all",
    ),
    "column outside column_set": (
        lambda c: c["body"]["elements"].append({"tag": "column", "elements": []}),
        "only allowed inside column_set",
    ),
    "multi select outside form": (
        lambda c: c["body"]["elements"].append({"tag": "multi_select_person", "name": "people"}),
        "only works inside a form",
    ),
    "not serialisable": (
        lambda c: c["config"]["summary"].__setitem__("content", NOW),
        "config.summary",
    ),
}


def _nest(leaf: dict, levels: int) -> dict:
    node = leaf
    for _ in range(levels):
        node = {"tag": "collapsible_panel", "elements": [node]}
    return node


@pytest.mark.parametrize("case", sorted(CASES))
def test_validator_catches(case):
    fn, expected = CASES[case]
    assert validate_card(valid_card()) == []
    errors = errors_of(mutate(fn))
    assert expected in errors, errors


def test_validator_handles_non_dict_and_non_json():
    assert validate_card([]) == ["card: must be an object, got list"]
    c = valid_card()
    c["body"]["elements"][0]["extra"] = {1, 2}
    assert "not JSON-serialisable" in errors_of(c)


def test_validator_measures_utf8_bytes():
    c = valid_card()
    base = len(json.dumps(c, ensure_ascii=False).encode())
    room = CARD_MAX_BYTES - base - len(',{"tag": "markdown", "content": ""}') - 1
    c["body"]["elements"].append({"tag": "markdown", "content": "x" * room})
    assert len(json.dumps(c, ensure_ascii=False).encode()) <= CARD_MAX_BYTES
    assert validate_card(c) == []
    c["body"]["elements"][-1]["content"] += "名"  # 3 bytes, 1 char
    assert "exceeds" in errors_of(c)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("<at id=all></at>", True),
        ("<at id='all'></at>", True),
        ('<at user_id="all">', True),
        ("<at ids=ou_1, all></at>", True),
        ("<at id=ou_all></at>", False),
        ("<at id=ou_1></at> all", False),
        ("&lt;at id=all&gt;&lt;/at&gt;", False),
        (escape_md("<at id=all></at>"), False),
    ],
)
def test_mentions_all(text, hit):
    assert mentions_all(text) is hit
