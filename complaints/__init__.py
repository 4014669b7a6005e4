"""Complaints (投诉举报): intake, attachments, tracking, the deadlined handling workflow and routing."""

from complaints.routes import blp

__all__ = ["blp"]
