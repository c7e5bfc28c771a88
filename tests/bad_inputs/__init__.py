"""The shared bad-input corpus (see :mod:`bad_inputs.cases`), run by ``tests/test_bad_inputs.py``."""
