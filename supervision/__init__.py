"""Supervision: credit grade, colour and supervision mode, inspection leads (violations, lists,
inspections and random draws arrive with their issue). Other packages ask this package what colour a
code is and feed it lead reasons."""
