"""The "new activity" form card, its confirmation, and the list of activities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cards.actions import CreateActivity
from cards.elements import card, hr, markdown, md_text, plain, plain_str
from cards.i18n import norm_lang
from cards.task_card import ActivityView, activity_facts

FORM_NAME = "activity_form"
FIELDS = ("title", "mode", "start", "end", "budget", "owner", "expected")
NAME_CHARS = 40
TITLE_CHARS = 60
MAX_ACTIVITIES = 30


@dataclass(frozen=True)
class PersonOption:
    open_id: str
    name: str


LABELS = {
    "zh": {
        "title": "新建活动",
        "summary": "新建市场活动",
        "intro": "填写活动信息并提交：我会按制度生成方案、物料、推广、执行报告、复盘等任务，分配给相关同事并通知团队群。",
        "f_title": "活动名称",
        "f_title_ph": "如：春季新品发布会",
        "f_mode": "形式",
        "f_start": "开始日期",
        "f_end": "结束日期",
        "f_budget": "预算（元）",
        "f_budget_ph": "如：50000",
        "f_owner": "负责人（策划）",
        "f_expected": "预计到场人数",
        "f_expected_ph": "如：200",
        "submit": "创建活动",
        "modes": {"offline": "线下", "online": "线上", "hybrid": "线上+线下"},
        "created_title": "活动已创建 · {title}",
        "created": "已创建活动（编号 {id}），生成 {n} 项任务，已通知负责同事和团队群。",
        "list_title": "市场活动",
        "list_empty": "目前没有进行中的活动。说「新建活动」创建一个。",
        "list_summary": "{n} 个活动",
        "tasks_n": "{n} 项任务",
    },
    "en": {
        "title": "New activity",
        "summary": "Create a marketing activity",
        "intro": "Fill in the activity and submit: I will plan its tasks from the policy (plan, materials, promotion, execution report, retrospective), assign them and tell the team chat.",
        "f_title": "Title",
        "f_title_ph": "e.g. Spring product launch",
        "f_mode": "Format",
        "f_start": "Start date",
        "f_end": "End date",
        "f_budget": "Budget (CNY)",
        "f_budget_ph": "e.g. 50000",
        "f_owner": "Owner (planner)",
        "f_expected": "Expected attendance",
        "f_expected_ph": "e.g. 200",
        "submit": "Create activity",
        "modes": {"offline": "Offline", "online": "Online", "hybrid": "Online + offline"},
        "created_title": "Activity created · {title}",
        "created": "Activity #{id} created with {n} tasks; the people concerned and the team chat are told.",
        "list_title": "Activities",
        "list_empty": 'No activities in progress. Say "new activity" to create one.',
        "list_summary": "{n} activities",
        "tasks_n": "{n} tasks",
    },
}


def _label(text: str) -> dict:
    return markdown(f"**{text}**", text_size="notation")


def build_activity_form(
    lang: str,
    *,
    nonce: str,
    people: list[PersonOption],
    default_owner: str | None = None,
    today: date | None = None,
) -> dict:
    """A form; its submit button carries `CreateActivity(nonce)` (the nonce makes a double
    submit create one activity)."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    owner: dict = {
        "tag": "select_person",
        "name": "owner",
        "required": True,
        "placeholder": plain(L["f_owner"]),
        "options": [{"value": p.open_id} for p in people],
    }
    if default_owner:
        owner["initial_option"] = default_owner
    date_extra = {"initial_date": today.isoformat()} if today else {}
    form = {
        "tag": "form",
        "name": FORM_NAME,
        "elements": [
            _label(L["f_title"]),
            {
                "tag": "input",
                "name": "title",
                "required": True,
                "max_length": 100,
                "placeholder": plain(L["f_title_ph"]),
            },
            _label(L["f_mode"]),
            {
                "tag": "select_static",
                "name": "mode",
                "required": True,
                "initial_option": "offline",
                "options": [
                    {"text": plain(L["modes"][k]), "value": k}
                    for k in ("offline", "online", "hybrid")
                ],
            },
            _label(L["f_start"]),
            {"tag": "date_picker", "name": "start", "required": True, **date_extra},
            _label(L["f_end"]),
            {"tag": "date_picker", "name": "end", "required": True, **date_extra},
            _label(L["f_budget"]),
            {"tag": "input", "name": "budget", "placeholder": plain(L["f_budget_ph"])},
            _label(L["f_owner"]),
            owner,
            _label(L["f_expected"]),
            {"tag": "input", "name": "expected", "placeholder": plain(L["f_expected_ph"])},
            {
                "tag": "button",
                "name": "activity_submit",
                "text": plain(L["submit"]),
                "type": "primary_filled",
                "form_action_type": "submit",
                "behaviors": [{"type": "callback", "value": CreateActivity(nonce, lang).pack()}],
            },
        ],
    }
    return card(
        title=L["title"],
        template="turquoise",
        summary=L["summary"],
        elements=[markdown(L["intro"], text_size="notation"), form],
    )


def build_activity_created_card(activity: ActivityView, tasks: int, lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    title = plain_str(activity.title, TITLE_CHARS) or "—"
    return card(
        title=L["created_title"].format(title=title),
        template="green",
        summary=L["created_title"].format(title=title),
        elements=[
            markdown(L["created"].format(id=activity.activity_id, n=tasks)),
            markdown(activity_facts(activity, lang), text_size="notation"),
        ],
    )


def build_activity_list_card(items: list[tuple[ActivityView, int]], lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    body: list[dict] = []
    if not items:
        body.append(markdown(L["list_empty"]))
    for i, (view, n) in enumerate(items[:MAX_ACTIVITIES]):
        if i:
            body.append(hr())
        head = f"**#{view.activity_id} {md_text(view.title, TITLE_CHARS)}** · {L['tasks_n'].format(n=n)}"
        body.append(markdown(head + "\n" + activity_facts(view, lang)))
    return card(
        title=L["list_title"],
        template="turquoise",
        summary=L["list_summary"].format(n=len(items)),
        elements=body,
    )


__all__ = [
    "FIELDS",
    "PersonOption",
    "build_activity_created_card",
    "build_activity_form",
    "build_activity_list_card",
]
