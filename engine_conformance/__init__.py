"""The conformance suite as an installable command (issue 19): ``engine-conformance``."""
