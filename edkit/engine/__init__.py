"""The numeric engine: backends behind one protocol (:mod:`edkit.engine.backends`: QuSpin stored
matrix, QuSpin symmetry blocks, the compiled matrix-free kernel, the two-wire product space, the
TeNPy export), the one planner that chooses among them (:mod:`edkit.engine.planning`), the solver,
symmetry checks and block labels. Reads models from :mod:`edkit.core`; knows nothing of
observables or workflows. Importing it changes nothing in the environment (QuSpin is imported on
first use, :func:`edkit.engine.backend_quspin.quspin`)."""
