"""Self-inspections (依法执业自查): checklist templates, filings, rectifications; credit commitments (信用承诺)."""
