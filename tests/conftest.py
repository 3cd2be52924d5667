"""Shared test settings: tests run against the *installed* fastgrad, never the source tree."""
import os

import fastgrad


def pytest_report_header(config):
    return f"fastgrad {fastgrad.__version__} imported from {os.path.dirname(fastgrad.__file__)}"
