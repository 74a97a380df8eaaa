"""Build step: the wheel carries the shipped U-Net as package data (everything else is in pyproject.toml).

``best_model.pth`` stays at the repository root, its one canonical copy (the design names it there
and ``musicsep train --out`` writes it there). Rather than a second copy in ``musicsep/models/``
that could drift from it, the build copies the root file into the built package, and
``musicsep.separators.base.shipped_model`` finds it there when installed, at the root in a checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED_AT_ROOT = ("best_model.pth",)


class build_py_with_models(build_py):  # noqa: N801 - setuptools command naming
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout, root file included
            return
        target = Path(self.build_lib) / "musicsep" / "models"
        target.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED_AT_ROOT:
            shutil.copyfile(ROOT / name, target / name)

    def get_outputs(self, include_bytecode=True):
        extra = [str(Path(self.build_lib) / "musicsep" / "models" / n) for n in SHIPPED_AT_ROOT]
        return super().get_outputs(include_bytecode) + ([] if self.editable_mode else extra)


setup(cmdclass={"build_py": build_py_with_models})
