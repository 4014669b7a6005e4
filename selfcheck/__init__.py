"""Self-inspections (依法执业自查) and credit commitments (信用承诺). Not built yet: see its issue."""
