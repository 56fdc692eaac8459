"""Private numba kernels: no validation, no Python objects, no public names."""
