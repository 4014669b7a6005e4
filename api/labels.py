"""zh-CN display names shared by exports, H5 pages and posters: one name for each stored value.

Names used in one place only stay with it (self-inspection and lead statuses in their exports,
staff and inspection names on the profile page); departments are api.models.DEPARTMENTS.
"""

from __future__ import annotations

# A complaint's status, as both the citizen's tracking page and the regulators' export show it.
COMPLAINT_STATUS_NAMES = {
    "submitted": "待受理", "accepted": "已受理", "rejected": "不予受理", "assigned": "已分派承办人",
    "investigating": "调查核实中", "resolved": "已办结", "replied": "已答复", "closed": "已结案",
}
COLOUR_NAMES = {"green": "绿码", "yellow": "黄码", "red": "红码"}
LIST_NAMES = {"red": "红名单", "black": "黑名单", "key": "重点监管名单"}
SUPERVISION_MODE_NAMES = {
    "commitment": "承诺式信用监管",
    "one_code": "一码监管",
    "stationed": "驻点监管",
    "remote": "远程监管",
    "graded": "分级量化监管",
}
RISK_NAMES = {"low": "低", "medium": "中", "high": "高"}
INSTITUTION_STATUS_NAMES = {"active": "正常执业", "suspended": "暂停执业", "revoked": "已吊销", "closed": "已注销"}
