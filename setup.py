# Only here because cffi compiles its extension through setuptools'
# ``cffi_modules`` hook; all metadata lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["nmt8/native/build.py:ffibuilder"])
