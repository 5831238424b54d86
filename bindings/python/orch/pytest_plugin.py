"""pytest fixtures for liborch clusters.

    def test_deploy(cluster):            # a fresh 1-node cluster per test
        cluster.apply(MANIFEST)
        cluster.wait_for("Deployment", "kuard", lambda d: ...)

Fixtures: `cluster` (function scope) and `module_cluster` (one per test module), both stopped
afterwards (every pod process killed, the temp data dir removed). Options by marker:

    @pytest.mark.orch_cluster(nodes=3, runtime="simulated", serve_http=True)

(any orch.Cluster keyword). Enable with `-p orch.pytest_plugin` from a build tree; an installed
package registers it through the `pytest11` entry point.
"""

import pytest

import orch


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "orch_cluster(**kwargs): keyword arguments of orch.Cluster for the `cluster` "
        "and `module_cluster` fixtures")


def _options(node):
    kwargs = {}
    # Closest marker wins: module/class markers first, then the test's own.
    for mark in reversed(list(node.iter_markers("orch_cluster"))):
        kwargs.update(mark.kwargs)
    return kwargs


@pytest.fixture
def cluster(request):
    """A fresh orch.Cluster for one test (default: 1 process node), stopped afterwards."""
    c = orch.Cluster(**_options(request.node))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def module_cluster(request):
    """One orch.Cluster shared by the tests of a module (options from module-level
    `pytestmark = pytest.mark.orch_cluster(...)`), stopped after the last one."""
    c = orch.Cluster(**_options(request.node))
    try:
        yield c
    finally:
        c.stop()
