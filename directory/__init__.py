"""The directory as regulators and institutions use it: the institution and staff endpoints, their
views (with credit and the code), spreadsheet exports and imports, and creating with a code. Above
supervision; the directory's models and rules stay in registry."""
