"""The pipeline's internals: ingest, spill, partition, LOD, HLOD, content, workers, kernels."""
