"""Supervision: credit grade, colour and supervision mode (violations, lists, inspections and random
draws arrive with their issue). Other packages ask this package what colour a code is."""
