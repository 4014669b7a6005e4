"""Data out to other systems: the 双公示 penalty feed for the credit platform, and Open311 GeoReport v2."""
