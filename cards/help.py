"""The help card: everything you can do with the bot, by topic, with the phrases to say
in Chinese and English. Admins also see the admin commands."""

from __future__ import annotations

from cards.elements import card, hr, markdown
from cards.i18n import norm_lang

# (topic, [(label key, example phrases)]). Keep in step with the handlers' keywords.
SECTIONS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "queries",
        (
            ("due", ("待办", "我的任务", "what's due", "todo")),
            ("week", ("本周", "this week")),
            ("overdue", ("逾期", "overdue")),
            ("whoami", ("我是谁", "whoami")),
            ("help", ("帮助", "help")),
        ),
    ),
    (
        "reports",
        (
            ("submit", ("提交周报", "提交执行报告", "submit weekly report")),
            (
                "text",
                (
                    "提交周报（换行）到场人数: 120",
                    "submit weekly report (new line) attendance: 120",
                ),
            ),
            ("mine", ("我的报告", "my reports")),
        ),
    ),
    ("approvals", (("pending", ("待审批", "pending approvals")),)),
    (
        "sla",
        (
            ("log_question", ("咨询：用户原话", "question: …")),
            ("log_complaint", ("投诉：用户原话", "complaint: …")),
        ),
    ),
    ("activities", (("activity_list", ("活动列表", "activities")),)),
)
ADMIN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("digest_now", ("本周汇总", "本月汇总", "weekly digest")),
    ("new_activity", ("新建活动", "new activity")),
    ("assign", ("绑定 @张三 市场策划专员", "assign @Zhang planner")),
    ("approver", ("设置审批人 @成员 @审批人", "set approver @member @approver")),
    ("remove", ("移除 @张三", "remove @Zhang")),
    ("leave", ("请假 @张三 2026-12-01 2026-12-05", "销假 @张三", "leave @Zhang 2026-12-01")),
)
# Kept for callers that list the query phrases.
COMMANDS = SECTIONS[0][1]

LABELS = {
    "zh": {
        "title": "DutyBot 帮助",
        "summary": "DutyBot 帮助：可以说的话",
        "intro": "我是部门值班助手：按岗位职责生成任务，提醒截止时间，并把汇报交给上级审批。",
        "queries": "**查询**",
        "reports": "**报告**（表单私信发给你；审批前可修改，被退回后可重新提交）",
        "approvals": "**审批**（在审批卡片上通过或退回，退回需写意见）",
        "activities": "**活动**（方案、物料、执行报告、复盘按活动日期排期）",
        "cards": "**卡片按钮**：提交报告 · 标记完成 · 明天再提醒 · 刷新",
        "digest": (
            "**汇总**：每周五 17:00 团队群收到周汇总，每月第一个工作日收到月汇总；"
            "逾期任务会提醒你，并按规则升级给上级。"
        ),
        "due": "查看我的待办",
        "week": "本周的任务",
        "overdue": "已逾期的任务",
        "whoami": "我的角色、审批人和 open_id",
        "help": "显示本帮助",
        "submit": "打开报告表单",
        "text": "直接用文字提交，一行一个「字段: 值」",
        "mine": "我提交的报告和状态",
        "pending": "等我审批的报告",
        "activity_list": "近期活动",
        "sla": (
            "**用户咨询与投诉**（按制度时限开始计时：咨询 24 小时内回复，投诉转交客户关系专员；"
            "也可以把消息转发给我再选择类型）"
        ),
        "log_question": "登记一条用户咨询",
        "log_complaint": "登记一条用户投诉",
        "sep": " · ",
        "colon": "：",
        "group": "在群聊里请先 **@机器人** 再说，例如「@DutyBot 待办」；私聊直接说即可。",
        "not_member": "你还不在团队名单中，暂时没有任务。请联系管理员把你加入团队（说「我是谁」可查看你的 open_id）。",
        "admin_title": "**管理员**",
        "digest_now": "随时查看团队汇总（管理员和有下属的经理）",
        "new_activity": "新建活动（管理员和市场经理）",
        "assign": "加入团队或换角色",
        "approver": "指定某人的审批人",
        "remove": "移出团队",
        "leave": "登记请假 / 销假（期间不提醒）",
        "admin": (
            "- 把机器人拉进群后，可在欢迎卡片上设为团队群（接收汇总）\n"
            "- 成员、角色和上级也可用团队文件同步：`dutybot org sync 文件`\n"
            "- 职责台账（每项任务的截止、交付、审批和 KPI）：`dutybot ledger export 台账.xlsx`；"
            "未完成任务：`dutybot tasks list`\n"
            "- 职责和截止规则来自策略文件，修改后先检查：`dutybot policy check 文件`"
        ),
    },
    "en": {
        "title": "DutyBot help",
        "summary": "DutyBot help: what you can say",
        "intro": (
            "I'm the team's duty assistant: I turn role duties into tasks, remind you of "
            "deadlines and pass your reports to your manager for approval."
        ),
        "queries": "**Queries**",
        "reports": (
            "**Reports** (the form comes in a direct message; edit until approved, "
            "resubmit after a rejection)"
        ),
        "approvals": "**Approvals** (approve or reject on the approval card; a rejection needs a comment)",
        "activities": "**Activities** (plan, materials, execution report and review scheduled from the dates)",
        "cards": "**Card buttons**: Submit report · Mark done · Remind me tomorrow · Refresh",
        "digest": (
            "**Digests**: the team chats get a weekly digest on Fridays at 17:00 and a monthly "
            "one on the first working day; overdue tasks remind you and escalate to your manager."
        ),
        "due": "What's due for me",
        "week": "This week's tasks",
        "overdue": "Overdue tasks",
        "whoami": "My role, approver and open_id",
        "help": "Show this help",
        "submit": "Open a report form",
        "text": 'Submit as text, one "field: value" per line',
        "mine": "My reports and their status",
        "pending": "Reports waiting for my approval",
        "activity_list": "Upcoming activities",
        "sla": (
            "**User questions and complaints** (the policy's deadline starts now: questions "
            "answered within 24 hours, complaints handed to customer relations; or forward "
            "the message to me and choose what it is)"
        ),
        "log_question": "Log a user question",
        "log_complaint": "Log a complaint",
        "sep": " · ",
        "colon": ": ",
        "group": (
            'In group chats, **@-mention the bot** first, e.g. "@DutyBot what\'s due"; '
            "in a direct chat just say it."
        ),
        "not_member": (
            "You're not on the team yet, so you have no tasks. Ask an admin to add you "
            '(say "whoami" to see your open_id).'
        ),
        "admin_title": "**Admins**",
        "digest_now": "The team digest now (admins and managers)",
        "new_activity": "Create an activity (admins and the manager)",
        "assign": "Add to the team or change role",
        "approver": "Set someone's approver",
        "remove": "Remove from the team",
        "leave": "Record or cancel leave (no reminders meanwhile)",
        "admin": (
            "- Add the bot to a group, then make it a team chat on its welcome card (digests)\n"
            "- Members, roles and managers can also come from a team file: "
            "`dutybot org sync FILE`\n"
            "- The duty ledger (every task's deadline, delivery, decision and KPIs): "
            "`dutybot ledger export ledger.xlsx`; open tasks: `dutybot tasks list`\n"
            "- Duties and due rules come from the policy file; check edits with "
            "`dutybot policy check FILE`"
        ),
    },
}


def _lines(L: dict, items: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    return [
        f"- {L[key]}{L['colon']}{L['sep'].join(f'`{p}`' for p in phrases)}"
        for key, phrases in items
    ]


def build_help_card(lang: str, *, is_member: bool, is_admin: bool) -> dict:
    """Every capability by topic (Chinese and English phrases), how to talk in groups,
    and for admins the team commands."""
    L = LABELS[norm_lang(lang)]
    elements = [markdown(L["intro"])]
    for topic, items in SECTIONS:
        elements.append(markdown("\n".join([L[topic], *_lines(L, items)])))
    elements += [markdown(L["cards"]), markdown(L["digest"]), markdown(L["group"])]
    if not is_member:
        elements.append(markdown(f"<font color='orange'>{L['not_member']}</font>"))
    if is_admin:
        lines = [L["admin_title"], *_lines(L, ADMIN), L["admin"]]
        elements += [hr(), markdown("\n".join(lines))]
    return card(
        title=L["title"],
        template="wathet" if is_member else "grey",
        summary=L["summary"],
        elements=elements,
    )


__all__ = ["COMMANDS", "SECTIONS", "build_help_card"]
