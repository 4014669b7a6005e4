"""Codes (一码): the code model, issue, rotate and revoke, and QR rendering. What citizens see when they
scan one (the profile, the H5 pages, posters) is the `public` package, above everything it shows."""
