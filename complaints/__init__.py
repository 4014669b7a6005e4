"""Complaints (投诉举报): intake, attachments, tracking, the deadlined handling workflow and routing."""
