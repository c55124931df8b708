"""edkit: exact diagonalization of small correlated-electron clusters.

The neutral model core is :mod:`edkit.core`, the factories :mod:`edkit.models`; the only module
that imports QuSpin is :mod:`edkit.engine.backend_quspin`. The symbolic layer is the sibling package
:mod:`mappings`.
"""

__version__ = "0.1.0"
