"""Inspection leads at their lowest: the models and adding a reason, which complaints and self-checks do.

Scoring views, listing, closing and dismissing are supervision's (supervision.leads)."""
