"""The parts of the policy drafter, one wording at a time: time expressions, report
contents, thresholds, role headings, superiors. Each row is a wording a department's
document may use; the expected value is what the draft must say."""

from __future__ import annotations

import pytest

from bot.domain.policy_draft import draft_from_text
from bot.domain.policy_draft.cadence import find_timings
from bot.domain.policy_draft.fields import Contents, listed_items, thresholds
from bot.domain.policy_draft.numbers import normalise
from bot.domain.policy_draft.structure import overview_roles, role_name


def _dues(text: str) -> list[dict]:
    return [t.due for t in find_timings(normalise(text))]


def _guessed(text: str) -> bool:
    return any(t.notes for t in find_timings(normalise(text)))


W = {"kind": "weekly"}
M = {"kind": "monthly"}
Q = {"kind": "quarterly"}
Y = {"kind": "yearly"}


@pytest.mark.parametrize(
    ("text", "due", "guessed"),
    [
        # weekly
        ("每周输出项目进度报告", {**W, "weekday": "fri"}, True),
        ("每周五提交销售周报", {**W, "weekday": "fri"}, False),
        ("每周五下班前提交销售周报", {**W, "weekday": "fri"}, False),
        ("每周一上午10点前召开例会", {**W, "weekday": "mon", "time": "10:00"}, False),
        ("每星期三下午三点半前提交", {**W, "weekday": "wed", "time": "15:30"}, False),
        ("每周一次部门例会", {**W, "weekday": "fri"}, True),
        ("Submit the weekly report every Friday by 5 pm.", {**W, "weekday": "fri", "time": "17:00"}, False),
        ("Send a status update weekly on Monday.", {**W, "weekday": "mon"}, False),
        ("Hold a team huddle each week.", {**W, "weekday": "fri"}, True),
        # several weekdays
        ("每周二、四、六更新", {"kind": "weekdays", "days": ["tue", "thu", "sat"]}, False),
        ("每周二、周四、周六发布", {"kind": "weekdays", "days": ["tue", "thu", "sat"]}, False),
        ("每周一至周五巡检", {"kind": "weekdays", "days": ["mon", "tue", "wed", "thu", "fri"]}, False),
        ("每个工作日9:30前召开班前会", {"kind": "weekdays", "days": ["mon", "tue", "wed", "thu", "fri"], "adjust": "skip", "time": "09:30"}, False),
        ("Publish posts every Tuesday, Thursday and Saturday.", {"kind": "weekdays", "days": ["tue", "thu", "sat"]}, False),
        # monthly
        ("每月5日前输出《品牌传播月报》", {**M, "before_day": 5}, False),
        ("于每月10日前完成上月对账", {**M, "before_day": 10}, False),
        ("每月五号之前提交", {**M, "before_day": 5}, False),
        ("每月15日发放工资", {**M, "day": 15}, False),
        ("次月3日前报送上月报表", {**M, "before_day": 3, "covers": "previous"}, False),
        ("每月底盘点库存", {**M, "day": -1}, False),
        ("月末完成排班", {**M, "day": -1}, False),
        ("每月月末完成班组排班表", {**M, "day": -1}, False),
        ("每月最后一个工作日提交", {**M, "day": -1}, False),
        ("每月组织一次培训", {**M, "day": -1}, True),
        ("制定月度内容规划", {**M, "before_start": True}, True),
        ("定期检查品牌露出合规性", {**M, "day": -1}, True),
        ("Prepare the forecast before the 5th of each month.", {**M, "before_day": 5}, False),
        ("File expenses by the 10th of every month.", {**M, "day": 10}, False),
        ("Close the books at the end of each month.", {**M, "day": -1}, False),
        ("Send the invoice summary monthly.", {**M, "day": -1}, True),
        # quarterly
        ("每季度1次专业技能培训", {**Q, "month": 3, "day": -1}, True),
        ("每季度首月15日前提交季度经营分析", {**Q, "month": 1, "before_day": 15}, False),
        ("每季度第一个月10日前完成", {**Q, "month": 1, "before_day": 10}, False),
        ("每季度末组织客户满意度回访", {**Q, "month": 3, "day": -1}, False),
        ("季度结束后10日内完成季度总结", {**Q, "month": 1, "day": 10, "covers": "previous"}, False),
        ("编制季度执行计划", {**Q, "before_start": True}, True),
        ("Review staffing at the end of each quarter.", {**Q, "month": 3, "day": -1}, False),
        ("Report before the 15th of the first month of each quarter.", {**Q, "month": 1, "before_day": 15}, False),
        ("Review staffing quarterly.", {**Q, "month": 3, "day": -1}, True),
        # yearly
        ("每年12月20日前编制年度预算", {**Y, "month": 12, "before_day": 20}, False),
        ("每年4月30日前完成年度审计", {**Y, "month": 4, "day": -2}, False),
        ("每年12月31日前完成年终盘点", {**Y, "month": 12, "day": -2}, False),
        ("每年3月完成年度体检", {**Y, "month": 3, "day": -1}, True),
        ("年底完成年终总结", {**Y, "month": 12, "day": -1}, False),
        ("年初制定全年招聘计划", {**Y, "month": 1, "day": -1}, True),
        ("根据企业年度经营目标，制定市场战略规划", {**Y, "before_start": True}, True),
        ("每年组织一次消防演练", {**Y, "month": 12, "day": -1}, True),
        ("Prepare the annual staffing plan before the 15th of December.", {**Y, "month": 12, "before_day": 15}, False),
        ("Renew licences annually.", {**Y, "month": 12, "day": -1}, True),
        # activities and projects
        ("活动前30天完成方案审批", {"kind": "activity", "anchor": "start", "offset": -30}, False),
        ("活动前三十天完成方案审批", {"kind": "activity", "anchor": "start", "offset": -30}, False),
        ("项目启动前7天提交计划", {"kind": "activity", "anchor": "start", "offset": -7}, False),
        ("活动开始前5个工作日确认场地", {"kind": "activity", "anchor": "start", "offset": -5, "unit": "working"}, False),
        ("活动结束后3个工作日内提交报告", {"kind": "activity", "anchor": "end", "offset": 3, "unit": "working"}, False),
        ("项目结束后7个工作日内组织复盘会", {"kind": "activity", "anchor": "end", "offset": 7, "unit": "working"}, False),
        ("活动结束后两天内回收物料", {"kind": "activity", "anchor": "end", "offset": 2}, False),
        ("Send the campaign brief 14 days before the campaign starts.", {"kind": "activity", "anchor": "start", "offset": -14}, False),
        ("Hold a retrospective within five working days after the event ends.", {"kind": "activity", "anchor": "end", "offset": 5, "unit": "working"}, False),
        ("新员工入职前3天准备工位", {"kind": "activity", "anchor": "start", "offset": -3}, True),
        # other wordings
        ("每月第一个工作日提交考勤表", {**M, "workday": 1}, False),
        ("每月前3个工作日内提交上月考勤", {**M, "workday": 3}, False),
        ("次月第5个工作日前报送", {**M, "workday": 5, "covers": "previous"}, False),
        ("每月结束后5个工作日内完成对账", {**M, "workday": 5, "covers": "previous"}, False),
        ("月结后3个工作日内出具报表", {**M, "workday": 3, "covers": "previous"}, False),
        ("每季度结束后10个工作日内提交报告", {**Q, "month": 1, "workday": 10, "covers": "previous"}, False),
        ("年度结束后15个工作日内提交年报", {**Y, "month": 1, "workday": 15, "covers": "previous"}, False),
        ("Send it within 10 working days after the quarter ends.", {**Q, "month": 1, "workday": 10, "covers": "previous"}, False),
        ("Reconcile within 5 business days of month end.", {**M, "workday": 5, "covers": "previous"}, False),
        ("每月第一个工作日发放（遇节假日顺延）", {**M, "workday": 1}, False),
        ("每月月初5个工作日内提交上月报表", {**M, "workday": 5}, False),
        ("当月25日前提交下月计划", {**M, "before_day": 25}, False),
        ("每两个月组织一次盘点", {**M, "day": -1}, True),
        ("Close the books no later than the 5th business day of the following month.", {**M, "workday": 5, "covers": "previous"}, False),
        ("每季度最后一个月25日前提交", {**Q, "month": 3, "before_day": 25}, False),
        ("每季度第二个月10日召开", {**Q, "month": 2, "day": 10}, False),
        ("每季度结束后一个月内完成", {**Q, "month": 1, "day": -1, "covers": "previous"}, False),
        ("次年1月15日前提交上年度工作总结", {**Y, "month": 1, "before_day": 15, "covers": "previous"}, False),
        ("每年度结束后30日内完成审计", {**Y, "month": 1, "day": -2, "covers": "previous"}, False),
        ("每年11月底前编制预算", {**Y, "month": 11, "day": -1}, False),
        ("项目验收后10个工作日内提交结项报告", {"kind": "activity", "anchor": "end", "offset": 10, "unit": "working"}, False),
        ("每月10日发放工资（遇节假日顺延）", {**M, "day": 10, "adjust": "next_workday"}, False),
        ("每月上旬完成", {**M, "day": 10}, True),
        ("每两周召开一次项目会", {**W, "weekday": "fri"}, True),
        ("Hold a sync every other week.", {**W, "weekday": "fri"}, True),
        ("每半年组织一次体检", {**Y, "month": 6, "day": -1}, True),
        ("Review access rights semi-annually.", {**Y, "month": 6, "day": -1}, True),
        ("活动结束后一周内提交总结", {"kind": "activity", "anchor": "end", "offset": 7}, False),
        ("活动前两周确定场地", {"kind": "activity", "anchor": "start", "offset": -14}, False),
        # SLA
        ("24小时内回复用户咨询", {"kind": "sla", "hours": 24}, False),
        ("电话留言须在两个小时内回拨", {"kind": "sla", "hours": 2}, False),
        ("在线咨询须在30分钟内响应", {"kind": "sla", "hours": 0.5}, False),
        # working days of working hours: a weekend does not eat into the three days
        ("客户投诉受理后三个工作日内给出处理结果", {"kind": "sla", "hours": 27, "unit": "working"}, True),
        ("Resolve billing disputes within 3 business days.", {"kind": "sla", "hours": 27, "unit": "working"}, True),
        ("Reply within 2 days.", {"kind": "sla", "hours": 48}, True),
        ("会议室预订须在4个工作小时内确认", {"kind": "sla", "hours": 4, "unit": "working"}, False),
        ("Answer tickets within 2 business hours.", {"kind": "sla", "hours": 2, "unit": "working"}, False),
        ("电话留言须在当天回拨", {"kind": "sla", "hours": 24}, True),
        ("在线咨询须在30秒内首次响应", {"kind": "sla", "hours": 0.017}, True),
        ("Answer chats within 20 seconds.", {"kind": "sla", "hours": 0.017}, True),
        ("Check backups every weekday before 9:30 am.", {"kind": "weekdays", "days": ["mon", "tue", "wed", "thu", "fri"], "adjust": "skip", "time": "09:30"}, False),
        ("Set up the laptop 2 working days before the start date.", {"kind": "activity", "anchor": "start", "offset": -2, "unit": "working"}, True),
        ("立即反馈至客户关系专员", {"kind": "sla", "hours": 1}, True),
        ("Respond to every ticket within 4 hours.", {"kind": "sla", "hours": 4}, False),
        ("Resolve urgent incidents within 30 minutes.", {"kind": "sla", "hours": 0.5}, False),
    ],
)  # fmt: skip
def test_time_expressions(text, due, guessed):
    assert _dues(text) == [due]
    assert _guessed(text) is guessed


@pytest.mark.parametrize(
    "text",
    ["及时更新客户档案", "协调跨部门资源，确保目标达成", "Keep the knowledge base accurate.",
     "将年度市场战略拆解为具体任务", "统筹现场执行"],
)  # fmt: skip
def test_no_time_stated(text):
    assert _dues(text) == []


def test_two_days_a_month_are_two_duties():
    assert _dues("每月10日、25日前提交考勤表") == [{**M, "before_day": 10}, {**M, "before_day": 25}]
    assert _dues("每月5日和20日发放") == [{**M, "day": 5}, {**M, "day": 20}]
    assert _guessed("每月5日和20日发放")


def test_several_expressions_in_one_sentence():
    dues = _dues("将年度市场战略拆解为季度/月度执行计划，明确时间节点(如活动前30天完成方案审批)")
    assert dues == [
        {**Q, "before_start": True},
        {**M, "before_start": True},
        {"kind": "activity", "anchor": "start", "offset": -30},
    ]
    # an answer within 24 hours and an immediate hand-over are two duties
    assert [
        d["hours"] for d in _dues("24小时内回复用户咨询，针对负面评价立即反馈至客户关系专员")
    ] == [24, 1]


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("每周输出项目进度报告(含完成率、风险点、需支持事项)", ["完成率", "风险点", "需支持事项"]),
        ("每周五提交销售周报（含本周签约金额、新增商机数量、下周计划）", ["本周签约金额", "新增商机数量", "下周计划"]),
        ("提交周报，周报内容包括：接待量、一次解决率、投诉量、满意度。", ["接待量", "一次解决率", "投诉量", "满意度"]),
        ("活动结束后3个工作日内,整理参与人数、留资数量(如扫码关注数)、现场成交数据,形成《活动执行报告》", ["参与人数", "留资数量", "现场成交数据"]),
        ("send the weekly support report covering backlog, SLA breaches and escalations", ["backlog", "SLA breaches", "escalations"]),
        ("依据企业品牌手册(含VI视觉、核心话术、价值观)定期检查", []),  # a handbook's contents
        ("组织复盘会(参与人员含策划、数字营销、客户关系专员)", []),  # who attends
    ],
)  # fmt: skip
def test_report_contents(text, labels):
    assert [label for label, _ in listed_items(normalise(text))] == labels


@pytest.mark.parametrize(
    ("text", "en", "kpi"),
    [
        ("活动到场率≥80%", False, ("活动到场率", ">=", 0.8, "")),
        ("回款率不低于95%", False, ("回款率", ">=", 0.95, "")),
        ("确保实际支出≤预算95%", False, ("实际支出", "<=", 0.95, "预算")),
        ("确保实际费用不超过预算的90%", False, ("实际费用", "<=", 0.9, "预算")),
        ("客户满意度达到90%以上", False, ("客户满意度", ">=", 0.9, "")),
        ("投诉率低于1%", False, ("投诉率", "<", 0.01, "")),
        ("首次响应时长不超过30秒", False, ("首次响应时长", "<=", 30, "")),
        ("每周抽检不少于50通录音", False, ("抽检", ">=", 50, "")),
        ("CSAT of at least 90%.", True, ("CSAT", ">=", 0.9, "")),
        ("keep spend no more than 95% of the budget", True, ("Spend", "<=", 0.95, "Budget")),
    ],
)
def test_thresholds_become_kpi_checks(text, en, kpi):
    c = Contents()
    thresholds(normalise(text), c, en)
    assert len(c.kpis) == 1
    k = c.kpis[0]
    by_key = {f.key: f.label_zh for f in c.fields}
    got = (by_key[k.numerator], k.op, k.threshold, by_key.get(k.denominator, ""))
    assert got == kpi


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("(一)市场总监", ("市场总监", "")),
        ("二、销售总监（Sales Director）", ("销售总监", "Sales Director")),
        ("岗位名称：客服主管", ("客服主管", "")),
        ("【招聘专员】岗位职责", ("招聘专员", "")),
        ("销售经理岗位职责：", ("销售经理", "")),
        ("## Support Team Lead", ("Support Team Lead", "Support Team Lead")),
        ("Role: Account Manager (客户经理)", ("客户经理", "Account Manager")),
        ("Quality Analyst — Responsibilities", ("Quality Analyst", "Quality Analyst")),
        ("市场部人员岗位管理制度", None),
        ("第一章 总则", None),
        ("1.战略规划：根据企业年度经营目标，牵头制定市场战略规划", None),
        ("Weekly report: every Friday by 17:00, send the report.", None),
    ],
)
def test_role_headings(line, expected):
    from bot.domain.policy_draft.structure import split_marker

    assert role_name(split_marker(line.lstrip("# "))[1]) == expected


def test_overview_lists():
    assert overview_roles(
        normalise("设置市场总监、市场经理、市场策划专员、品牌运营专员7个核心岗位")
    ) == ["市场总监", "市场经理", "市场策划专员", "品牌运营专员"]
    assert overview_roles(
        "The department consists of the Support Director, Support Team Lead and Quality Analyst."
    ) == ["Support Director", "Support Team Lead", "Quality Analyst"]


@pytest.mark.parametrize(
    ("intro", "reports_to", "label"),
    [
        ("向销售总监汇报，负责区域销售。", "director", ""),
        ("负责承接销售总监战略部署，推动落地。", "director", ""),
        ("在销售总监的领导下开展工作。", "director", ""),
        ("直接上级：销售总监", "director", ""),
        ("直接上级：运营副总", "", "运营副总"),
        ("对公司总经理负责。", "", "公司总经理"),
        ("全面负责区域销售。", "director", ""),  # guessed from the titles, flagged
    ],
)
def test_superior_from_the_text(intro, reports_to, label):
    doc = f"销售部职责\n一、销售总监\n1、每周五提交周报。\n二、销售经理\n{intro}\n1、每周一召开例会。\n"
    data = draft_from_text(doc).draft
    manager = next(r for r in data.roles if r.name_zh == "销售经理")
    assert (manager.reports_to, manager.reports_to_label) == (reports_to, label)
    assert any("guessed" in n for n in manager.notes) is (intro == "全面负责区域销售。")


def test_any_mix_of_document_lines_gives_a_valid_draft_or_a_clear_error():
    """Documents we have not seen: shuffled lines of the test documents plus edge cases
    (numbers out of range, empty lists, stray markers) never give an invalid draft or a
    traceback; the draft is validated by the policy loader inside draft_from_text."""
    import random
    from pathlib import Path

    from bot.domain.policy_draft import DraftError

    docs = Path(__file__).parent / "data" / "policy_docs"
    lines = [
        line for f in sorted(docs.iterdir()) for line in f.read_text("utf-8").splitlines() if line
    ]
    odd = ["1.", "（一）", "- ", "## ", "岗位名称：", "每月32日前", "每年13月5日前", "活动前999天",
           "0小时内", "≥", "(含、、)", "| 经理 | |", "within 0 hours", "每季度首月0日前",
           "1000000小时内", "每年2月30日", "\u200b", "《", "）"]  # fmt: skip
    rng = random.Random(7)
    drafted = 0
    for _ in range(60):
        doc = "\n".join(
            rng.choice(lines) + (rng.choice(odd) if rng.random() < 0.3 else "")
            for _ in range(rng.randint(1, 25))
        )
        try:
            draft_from_text(doc, "mix.md", markdown=rng.random() < 0.5)
            drafted += 1
        except DraftError as e:
            assert "no role found" in str(e) or "no duty that states" in str(e), str(e)
    assert drafted > 20
