"""Data sources. Each returns :class:`tunescout.raw.RawBundle` objects in the catalog schema."""
