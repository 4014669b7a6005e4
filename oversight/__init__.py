"""Oversight for leaders and data out (issue 20): the numbers (stats), the monthly report."""
