"""English names and keys for what the document names in Chinese.

A small glossary of office words translates most role titles and duty names word by word
(longest match first). What it cannot translate is spelled in pinyin (pypinyin) and
flagged, so the admin knows which names to fix; keys leave such words out when others are
left (and are always valid ASCII).
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
福利 Benefits|薪酬福利 Compensation & Benefits|进展 Progress|参训 Trainee|参训人数 Trainees
缴纳 Payment|准确率 Accuracy Rate|准确 Accuracy|每次 Each|下一年度 Next Year's|下年度 Next Year's
上一年度 Last Year's|本年度 This Year's|下季度 Next Quarter|上季度 Last Quarter|本季度 This Quarter
办理 Processing|手续 Formalities|公积金 Housing Fund|收集 Collection|各项 All|各部门 All Departments
招聘需求 Hiring Needs|半年 Half-year|全年 Full-year|次数 Count|比例 Ratio|占比 Share
完成率 Completion Rate|达成率 Achievement Rate|回款率 Collection Rate|转化率 Conversion Rate
成交率 Close Rate|复购率 Repeat Purchase Rate|毛利率 Gross Margin|毛利 Gross Profit|利润 Profit
成本 Cost|差旅 Travel|差旅费 Travel Expenses|报价 Quotation|投标 Bid|合同评审 Contract Review
应收账款 Accounts Receivable|账龄 Aging|坏账 Bad Debt|经销商 Distributor|代理商 Agent
新客户 New Customers|老客户 Existing Customers|漏斗 Funnel|销售漏斗 Sales Funnel|提成 Commission
排名 Ranking|客单价 Average Order Value|销售目标 Sales Targets|客户经理 Account Manager|大区 Region
月结 Month-end Close|资产负债表 Balance Sheet|利润表 Income Statement|现金流量表 Cash Flow Statement
纳税 Tax|纳税申报 Tax Filing|申报 Filing|税务 Tax|增值税 VAT|个税 Individual Income Tax
开票 Invoicing|付款 Payments|收款 Receipts|银行 Bank|银行对账 Bank Reconciliation|差异 Variance
余额调节表 Reconciliation Statement|预算执行 Budget Execution|执行率 Execution Rate|决算 Final Accounts
往来 Intercompany|往来款 Intercompany Balances|固定资产 Fixed Assets|折旧 Depreciation|借款 Loans
及时率 Timeliness Rate|差错率 Error Rate|错误率 Error Rate|总账 General Ledger|成本会计 Cost Accountant
运维 Operations|服务器 Server|网络 Network|机房 Server Room|备份 Backup|数据备份 Data Backup
恢复 Recovery|演练 Drill|故障 Incident|事件 Incident|告警 Alerts|可用性 Availability|可用率 Availability
漏洞 Vulnerability|补丁 Patch|扫描 Scan|变更 Change|上线 Release|权限 Access|审查 Review
设备 Equipment|容量 Capacity|性能 Performance|日志 Logs|报修 Repair Requests|维修 Repair|桌面 Desktop
服务台 Service Desk|根因 Root Cause|信息安全 Information Security|防病毒 Antivirus|灾备 Disaster Recovery
管理员 Administrator|系统管理员 System Administrator|网络管理员 Network Administrator|机器 Machines
办公用品 Office Supplies|会议室 Meeting Rooms|车辆 Vehicles|用车 Vehicle Use|接待 Reception
访客 Visitors|食堂 Canteen|保洁 Cleaning|安保 Security|消防 Fire Safety|证照 Licences|年检 Annual Inspection
印章 Seals|用印 Seal Use|文件 Documents|收发 Dispatch|快递 Courier|水电 Utilities|租赁 Lease
物业 Property Management|办公室 Office|团建 Team Building|节日 Holiday|礼品 Gifts|领用 Requisition
前台 Receptionist|司机 Driver|后勤 Facilities|编写 Writing|撰写 Writing|审阅 Review|确认 Confirmation
通知 Notice|公示 Announcement|公告 Announcement|跟踪 Tracking|落实 Implementation|督促 Follow-up
催收 Collection|评审 Review|验收 Acceptance|交付 Delivery|报送 Submission|上报 Submission|提报 Submission
备案 Filing|存档 Archiving|会议纪要 Meeting Minutes|周会 Weekly Meeting|月会 Monthly Meeting
安排 Arrangement|整改 Remediation|标准 Standards|规范 Guidelines|薪资 Pay|工资表 Payroll Sheet
绩效考核 Performance Appraisal|满意 Satisfied|增长率 Growth Rate|同比 Year-on-Year|环比 Month-on-Month
完整 Complete|完整率 Completeness Rate|合格率 Pass Rate|达标率 Compliance Rate|通过率 Pass Rate
覆盖率 Coverage Rate|出勤率 Attendance Rate|流失率 Turnover Rate|离职率 Turnover Rate|留存率 Retention Rate
及时 Timely|人均 Per Capita|总额 Total|总数 Total|合计 Total|名单 List|计划表 Schedule|报告书 Report
申请 Requests|审批单 Approval Form|台账更新 Ledger Update|工资核算 Payroll Accounting|核算表 Accounting Sheet
客户满意度 Customer Satisfaction|问卷 Questionnaire|结论 Conclusions|原因 Causes|措施 Measures
次月 Next Month|当月 This Month|月初 Month Start|月末 Month End|季度末 Quarter End|年末 Year End
运行 Running|状态 Status|报警 Alerts|处理时长 Handling Time|修复 Fix|修复率 Fix Rate|升级包 Upgrade
信息技术 Information Technology|表 Sheet|汇总表 Summary Sheet|仓管员 Warehouse Keeper|仓管 Warehouse|全面 Full|出入库 Stock In/Out|入库 Stock-in|出库 Stock-out
货物 Goods|到货 Delivery|呆滞 Slow-moving|发货 Shipping|运费 Freight|包装费 Packaging Fees
仓储费 Storage Fees|包装 Packaging|订单确认 Order Confirmation|准时 On-time|准时率 On-time Rate
交货 Delivery|交期 Delivery Date|生产计划 Production Plan|产量 Output|良品率 Yield|不良率 Defect Rate
设备维护 Equipment Maintenance|点检 Routine Check|保养 Servicing|安全检查 Safety Inspection|隐患 Hazards
介入 Intervention|结案 Case Closure|个人 Personal|小结 Summary|典型 Typical|接通率 Answer Rate
首次响应 First Response|询价 Inquiries|展会 Trade Show|当日 Same-day|当天 Same-day|签订 Signing|意向 Prospective
线索 Leads|拜访客户 Customer Visits|合同归档 Contract Archiving|前台接待 Receptionist|接待员 Receptionist|到访 Visit|费用报销 Expense Claims|营业执照 Business Licence|公共区域 Common Areas|公共 Public|预订 Booking
水电费 Utilities|差旅 Travel|大型 Major|年会 Annual Meeting|被访人 Host
中断 Outage|配置 Configuration|测试 Test|电脑 Computers|高危 High-risk|发现 Discovery
存款 Deposits|银行存款 Bank Deposits|单据 Documents|企业所得税 Corporate Income Tax|所得税 Income Tax
汇算清缴 Annual Tax Settlement|周转 Turnover|周转天数 Turnover Days|费用率 Expense Ratio|期末 Closing
期末余额 Closing Balance|运行状态 Running Status|恢复测试 Restore Test|平均 Average|成功率 Success Rate
支出 Spend|开支 Spending|花费 Spend|各岗位 All Positions|关键 Key|关键路径 Critical Path|一次解决率 First-contact Resolution Rate
时间 Time|到账 Receipt|账户 Accounts|资金计划 Funding Plan|现金流 Cash Flow|预警 Warnings|异常 Exceptions
"""

GLOSSARY: dict[str, str] = {}
for _line in _GLOSSARY_TEXT.strip().splitlines():
    for _pair in _line.split("|"):
        _zh, _en = _pair.strip().split(" ", 1)
        GLOSSARY[_zh] = _en
_LONGEST = max(len(k) for k in GLOSSARY)
_CJK = re.compile(r"[\u3400-\u9fff]")
# words that add nothing to a key ("的", punctuation) are skipped
_SKIP = set("的之与和及并等、/·（）()《》“”\"' 　")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def translate(zh: str) -> tuple[str, bool]:
    """(English, complete): glossary words, pinyin for the rest; complete = no pinyin."""
    words = _words(zh)
    return " ".join(w for w, _ in words).strip(), all(en for _, en in words)


def key_text(zh: str) -> str:
    """English words for a key: a word the glossary lacks is left out rather than spelled
    in pinyin, unless nothing else is left."""
    words = _words(zh)
    return " ".join(w for w, en in words if en) or " ".join(w for w, _ in words)


def _words(zh: str) -> list[tuple[str, bool]]:
    """(word, is English) in text order: glossary words, ASCII as written, pinyin for the
    rest."""
    words: list[tuple[str, bool]] = []
    i = 0
    pending = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            words.append((_pinyin(pending), False))
            pending = ""

    while i < len(zh):
        for n in range(min(_LONGEST, len(zh) - i), 0, -1):
            en = GLOSSARY.get(zh[i : i + n])
            if en:
                flush()
                words.append((en, True))
                i += n
                break
        else:
            ch = zh[i]
            if ch in _SKIP:
                flush()
            elif _CJK.match(ch):
                pending += ch
            elif ch.isascii() and (ch.isalnum() or ch in "&-"):
                flush()
                j = i
                while j < len(zh) and zh[j].isascii() and (zh[j].isalnum() or zh[j] in "&-"):
                    j += 1
                words.append((zh[i:j], True))
                i = j
                continue
            i += 1
    flush()
    deduped: list[tuple[str, bool]] = []
    for w, en in words:  # "Weekly Report" after "Weekly"
        if deduped and deduped[-1][0].split()[-1] == w.split()[0]:
            w = " ".join(w.split()[1:])
        if w:
            deduped.append((w, en))
    return deduped


def _pinyin(zh: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(zh)).capitalize()


def slug(text: str, limit: int) -> str:
    """A key: lower-case ASCII words joined by '_', at most ``limit`` characters."""
    if has_cjk(text):
        text = key_text(text)
    text = re.sub(r"\bhuman resources\b", "hr", text.lower()).replace("'s", "")
    words = re.findall(r"[a-z0-9]+", text.replace("&", " and "))
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
