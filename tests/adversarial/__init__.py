"""Adversarial tests: hostile input from users and servers (a package, so that the museum
server helpers of tests/test_datasets.py can be imported)."""
