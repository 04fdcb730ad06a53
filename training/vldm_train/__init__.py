"""vldm_train: the project's own training, export and evaluation code for vldm model packs.

Everything here follows docs/model-contract.md; `contract.py` is the single place where the
contract's names, metadata keys, schedules and manifest format are written down in Python.
"""
