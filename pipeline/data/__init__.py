"""Data: DAVIS layout I/O, the synthetic generator, download, the decoded cache, datasets."""
