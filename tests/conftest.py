"""Shared test settings: tests run against the *installed* fastgrad, never the source tree."""
import os

import pytest

import fastgrad


def pytest_report_header(config):
    return f"fastgrad {fastgrad.__version__} imported from {os.path.dirname(fastgrad.__file__)}"


@pytest.fixture(autouse=True, scope="session")
def _work_outside_the_source_tree(tmp_path_factory):
    """Run every test (and the interpreters it starts) from an empty folder, so that
    ``import fastgrad`` finds the installed package, never the source folder."""
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old)
