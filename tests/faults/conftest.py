"""The fault tests' fixtures `city_dir` and `serve` (real `bigscreen serve` processes) live in
tests/conftest.py: the browser tests use them too."""
