"""The numeric engine: the QuSpin backend, the matrix-free kernel, the solver, the planner and
symmetry blocks. Reads models from :mod:`edkit.core`; knows nothing of observables or workflows."""
