"""Codes (一码): issue, rotate and revoke; QR images; the public scan profile and its H5 pages.

The blueprints are `codes.routes.blp` (the API) and `codes.h5.h5` / `codes.h5.h5_track` (the pages),
imported by the app factory from those modules: other packages import `codes.models` and
`codes.service`, and the H5 complaint pages import the complaints package, so importing the routes
here would make `import complaints` circular.
"""
