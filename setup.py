"""Maps ./assets to the package ``siscore._assets`` so the embedded photos ship in the wheel."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["siscore", "siscore.*"]), "siscore._assets"],
    package_dir={"siscore._assets": "assets"},
)
