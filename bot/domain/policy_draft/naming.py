"""English names and keys for what the document names in Chinese.

A small glossary of office words translates most role titles and duty names word by word
(longest match first). What it cannot translate is spelled in pinyin (pypinyin) and
flagged, so keys are always valid ASCII and the admin knows which names to fix.
"""

from __future__ import annotations

import re

_GLOSSARY_TEXT = """
总经理 General Manager|副总经理 Deputy General Manager|总裁 President|副总裁 Vice President
总监 Director|副总监 Deputy Director|经理 Manager|副经理 Deputy Manager|主管 Supervisor
专员 Specialist|助理 Assistant|组长 Team Lead|主任 Head|负责人 Lead|工程师 Engineer
顾问 Consultant|代表 Representative|文员 Clerk|会计 Accountant|出纳 Cashier|秘书 Secretary
督导 Supervisor|培训师 Trainer|分析师 Analyst|设计师 Designer|班长 Shift Lead|坐席 Agent
客服 Customer Service|客户服务 Customer Service|客户关系 Customer Relations|客户 Customer
市场 Marketing|营销 Marketing|销售 Sales|品牌 Brand|运营 Operations|策划 Planning
数字营销 Digital Marketing|数字 Digital|调研 Research|研究 Research|人力资源 Human Resources
人事 HR|招聘 Recruiting|培训 Training|薪酬 Compensation|绩效 Performance|员工关系 Employee Relations
行政 Administration|财务 Finance|采购 Procurement|仓储 Warehouse|物流 Logistics|质量 Quality
质检 Quality Inspection|技术 Technical|产品 Product|研发 R&D|项目 Project|内容 Content|新媒体 New Media
渠道 Channel|大客户 Key Account|区域 Regional|商务 Business|售前 Pre-sales|售后 After-sales
投诉 Complaints|热线 Hotline|在线 Online|电话 Phone|数据 Data|法务 Legal|安全 Safety|信息 Information
部门 Department|部 Department|中心 Center|团队 Team|小组 Team|岗位 Position|人员 Staff|员工 Staff
年度 Annual|季度 Quarterly|月度 Monthly|每周 Weekly|周 Weekly|每月 Monthly|每日 Daily|日常 Daily
战略 Strategy|规划 Plan|计划 Plan|方案 Proposal|预算 Budget|报告 Report|报表 Report|总结 Summary
周报 Weekly Report|月报 Monthly Report|季报 Quarterly Report|年报 Annual Report|日报 Daily Report
复盘 Retrospective|复盘会 Retrospective|会议 Meeting|例会 Regular Meeting|分析 Analysis|评估 Assessment
考核 Appraisal|审批 Approval|审核 Review|检查 Check|巡检 Inspection|盘点 Stocktake|对账 Reconciliation
回访 Follow-up Visit|跟进 Follow-up|回复 Reply|响应 Response|处理 Handling|反馈 Feedback
咨询 Enquiries|投放 Placement|推广 Promotion|活动 Activity|执行 Execution|落地 Delivery|进度 Progress
管理 Management|维护 Maintenance|协调 Coordination|协同 Collaboration|统筹 Coordination|监控 Monitoring
资源 Resources|团队管理 Team Management|风险 Risk|把控 Control|风险把控 Risk Control|合规 Compliance
效果 Effectiveness|评价 Review|负面 Negative|用户 User|互动 Engagement|口碑 Reputation|传播 Communications
体系 System|生产 Production|物料 Materials|场地 Venue|记录 Records|整理 Compilation|归档 Archiving
文档 Document|手册 Handbook|制度 Policy|流程 Process|入职 Onboarding|离职 Offboarding|转正 Confirmation
合同 Contract|档案 Records|社保 Social Insurance|工资 Payroll|核算 Accounting|发放 Payment|报销 Expense Claims
回款 Collections|应收 Receivables|发票 Invoice|订单 Orders|商机 Opportunities|线索 Leads|拜访 Visits
客户拜访 Customer Visits|满意度 Satisfaction|调查 Survey|工单 Tickets|质检抽查 QA Sampling|知识库 Knowledge Base
排班 Roster|值班 Duty|交接 Handover|升级 Escalation|更新 Update|发布 Publishing|制定 Drafting|编制 Preparation
提交 Submission|输出 Output|组织 Organising|召开 Holding|开展 Running|完成 Completion|准备 Preparation
目标 Targets|指标 Indicators|业绩 Results|销售额 Sales Revenue|预测 Forecast|复核 Review|汇总 Summary
统计 Statistics|清单 Checklist|台账 Ledger|纪要 Minutes|竞品 Competitor|市场调研 Market Research
内容规划 Content Plan|数据记录 Data Recording|效果评估 Effectiveness Review|计划分解 Plan Breakdown
跨部门 Cross-department|过程监控 Process Monitoring|专业技能 Professional Skills|技能 Skills
执行报告 Execution Report|进度报告 Progress Report|满意度调查 Satisfaction Survey|问题 Issues
新员工 New Staff|试用期 Probation|面试 Interviews|人才 Talent|梯队 Pipeline|全员 All Staff
率 Rate|到场率 Attendance Rate|到场 Attendance|参与 Participation|参与人数 Participants|数量 Count
人数 Headcount|成交 Deals|留资 Leads|现场 On-site|亮点 Highlights|风险点 Risks|需支持事项 Support Needed
支持 Support|事项 Items|高频 Frequent|视觉 Visual|话术 Scripts|价值观 Values|分工 Responsibilities
时间节点 Milestones|节点 Milestones|拆解 Breakdown|经营 Business|核心 Core|路径 Paths|需求 Needs
建设 Building|拓展 Expansion|增长 Growth|经验教训 Lessons Learned|经验 Experience|教训 Lessons
优化建议 Improvements|建议 Suggestions|达成 Achievement|达成情况 Achievement|情况 Status|变化 Changes
费用 Expenses|实际 Actual|控制 Control|费用控制 Cost Control|签约 Contracts|金额 Amount|新增 New
本周 This Week|下周 Next Week|上周 Last Week|本月 This Month|下月 Next Month|上月 Last Month
重点 Key|重点客户 Key Accounts|录用 Hires|到岗 Onboarded|到岗率 Onboarding Rate|面试人数 Interviewees
用人 Hiring|用人需求 Hiring Requests|信息 Information|招聘信息 Job Posting|工位 Workstation|账号 Accounts
首次 First|联系 Contact|首次联系 First Contact|系统 System|录入 Entry|拜访重点客户 Key Account Visits
满意度回访 Satisfaction Follow-up|档案 Records|更新 Update|反馈至 Forward to|至 to|跟进处理 Follow-up
社交媒体 Social Media|评论 Comments|监测 Monitoring|热点 Trending Topics|素材 Assets|页面 Pages
团队能力 Team Capability|提升 Improvement|能力 Capability|选拔 Selection|培养 Development
协作 Collaboration|机制 Mechanism|内部 Internal|执行力 Execution|创新力 Innovation|声誉 Reputation
环境 Environment|变化监控 Change Monitoring|调整 Adjustment|优化 Optimisation|方向 Direction
供应商 Supplier|库存 Inventory|对账 Reconciliation|回款对账 Collections Reconciliation|账款 Accounts
工作 Work|总结会 Review Meeting|述职 Performance Report|汇报 Report|值班表 Duty Roster|班表 Roster
响应 Response|时长 Duration|时效 Turnaround|处理方案 Resolution Plan|解决 Resolution|升级处理 Escalation
服务 Service|质量 Quality|抽检 Sampling|抽查 Spot Checks|评分 Scores|得分 Score|差评 Negative Reviews
请假 Leave|考勤 Attendance|加班 Overtime|入职手续 Onboarding Paperwork|离职手续 Offboarding Paperwork
职责 Responsibilities|岗位职责 Job Responsibilities|说明 Description|说明书 Description|形成 Produce
供 for|全公司 Company-wide|参考 Reference|公司 Company|管理办法 Management Rules|办法 Rules|规定 Rules
早会 Morning Meeting|班前会 Pre-shift Meeting|班组 Team|排班表 Roster|接待量 Volume Handled
解决率 Resolution Rate|投诉量 Complaint Volume|留言 Voicemail|回拨 Call Back|受理 Intake|结果 Result
改进 Improvement|类型 Type|录音 Recordings|改进建议 Improvement Suggestions|给出 Give|处理结果 Outcome
审计 Audit|配合 Support|登记 Recording|凭证 Vouchers|会计凭证 Accounting Vouchers|结账 Closing
核对 Check|现金 Cash|库存现金 Cash on Hand|资金 Funds|资产 Assets|收入 Income|余额 Balance
相符率 Match Rate|账实相符率 Book-to-Actual Match Rate|财务报表 Financial Statements|账务 Accounts
劳动合同 Employment Contract|续签 Renewal|到期 Expiry|员工满意度 Staff Satisfaction|人力 Human Resources
"""

GLOSSARY: dict[str, str] = {}
for _line in _GLOSSARY_TEXT.strip().splitlines():
    for _pair in _line.split("|"):
        _zh, _en = _pair.strip().split(" ", 1)
        GLOSSARY[_zh] = _en
_LONGEST = max(len(k) for k in GLOSSARY)
_CJK = re.compile(r"[\u3400-\u9fff]")
# words that add nothing to a key ("的", punctuation) are skipped
_SKIP = set("的之与和及、/·（）()《》“”\"' 　")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def translate(zh: str) -> tuple[str, bool]:
    """(English, complete): glossary words, pinyin for the rest; complete = no pinyin."""
    words: list[str] = []
    complete = True
    i = 0
    pending = ""
    while i < len(zh):
        for n in range(min(_LONGEST, len(zh) - i), 0, -1):
            en = GLOSSARY.get(zh[i : i + n])
            if en:
                if pending:
                    words.append(_pinyin(pending))
                    pending, complete = "", False
                words.append(en)
                i += n
                break
        else:
            ch = zh[i]
            if ch in _SKIP:
                if pending:
                    words.append(_pinyin(pending))
                    pending, complete = "", False
            elif _CJK.match(ch):
                pending += ch
            elif ch.isascii() and (ch.isalnum() or ch in "&-"):
                if pending:
                    words.append(_pinyin(pending))
                    pending, complete = "", False
                j = i
                while j < len(zh) and zh[j].isascii() and (zh[j].isalnum() or zh[j] in "&-"):
                    j += 1
                words.append(zh[i:j])
                i = j
                continue
            i += 1
    if pending:
        words.append(_pinyin(pending))
        complete = False
    deduped: list[str] = []
    for w in words:  # "Weekly Report" after "Weekly"
        if deduped and deduped[-1].split()[-1] == w.split()[0]:
            w = " ".join(w.split()[1:])
        if w:
            deduped.append(w)
    return " ".join(deduped).strip(), complete


def _pinyin(zh: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(zh)).capitalize()


def slug(text: str, limit: int) -> str:
    """A key: lower-case ASCII words joined by '_', at most ``limit`` characters."""
    if has_cjk(text):
        text = translate(text)[0]
    words = re.findall(r"[a-z0-9]+", text.lower().replace("&", " and "))
    out = ""
    for w in words:
        cand = f"{out}_{w}" if out else w
        if len(cand) > limit:
            break
        out = cand
    if not out:
        out = (words[0][:limit] if words else "x") or "x"
    if not out[0].isalpha():
        out = ("n" + out)[:limit]
    return out


def unique(key: str, taken: set[str], limit: int) -> str:
    if key not in taken:
        taken.add(key)
        return key
    n = 2
    while True:
        suffix = f"_{n}"
        cand = key[: limit - len(suffix)] + suffix
        if cand not in taken:
            taken.add(cand)
            return cand
        n += 1
