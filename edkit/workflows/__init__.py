"""Workflows over many points: parameter sweeps, the results store, Dask execution and the
comparison of DMRG/QMC numbers with ED."""
