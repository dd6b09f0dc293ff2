"""Scale: the same extraction over whole collections, on Dask, into the zarr store."""
