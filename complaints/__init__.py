"""Complaints (投诉举报): intake, attachments, tracking, the deadlined workflow, leads.

Not built yet: see the complaints issue. The scan's complaint link points at the 12320 hotline meanwhile.
"""
