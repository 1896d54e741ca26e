"""Pure domain core of the KIS market-data backbone: no Ray, no database driver imports."""
