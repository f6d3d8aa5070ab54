"""Data sources. Each returns :class:`tunescout.catalog.snapshots.RawBundle` objects in the catalog schema."""
