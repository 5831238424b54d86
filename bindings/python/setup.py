"""Packages the meson-built extension with the pure-Python modules.

Build first:  meson setup build && meson compile -C build   (at the repository root)
Then:         cd bindings/python && ORCH_BUILD_DIR=../../build pip install --no-build-isolation .

The wheel holds orch/__init__.py, orch/pytest_plugin.py and orch/_orch.<abi>.so copied from
$ORCH_BUILD_DIR/bindings/python/orch (default ../../build). It links only system shared
libraries (Boost.JSON/URL, SQLite, curl, fmt, yaml-cpp, OpenSSL) besides liborch's static parts.
"""

import glob
import os
import shutil
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithExtension(build_py):
    def run(self):
        super().run()
        build_dir = os.environ.get("ORCH_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        pattern = os.path.join(os.path.abspath(build_dir), "bindings", "python", "orch",
                               "_orch" + suffix)
        found = glob.glob(pattern)
        if not found:
            raise SystemExit("orch: %s not found; build liborch with meson first and set "
                             "ORCH_BUILD_DIR to its build directory" % pattern)
        dest = os.path.join(self.build_lib, "orch")
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(found[0], dest)


try:
    from setuptools.dist import Distribution

    class BinaryDistribution(Distribution):
        def has_ext_modules(self):
            return True
except ImportError:  # pragma: no cover
    BinaryDistribution = None

setup(cmdclass={"build_py": BuildPyWithExtension}, distclass=BinaryDistribution)
