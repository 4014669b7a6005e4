"""Codes (一码): issue, rotate and revoke; QR images; the public scan profile and its H5 page."""

from codes.routes import blp, h5

__all__ = ["blp", "h5"]
