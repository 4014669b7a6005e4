"""The job tests' fixtures: the export tests' world (named and anonymous complaints, a black-listed
institution, a self-inspection filing)."""

from tests.exchange.test_export_personas import world  # noqa: F401 - a fixture, used by name
